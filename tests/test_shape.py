"""The code's shape, checked where a reader would otherwise have to trust a docstring.

The services and the common library reach the broker only through `gridloop_common.messaging`:
a service module importing aio-pika would bypass the confirms, the returns-as-errors and the
parking rules that package enforces. (The test kit and the tools play the departments, the
monitor and the operator from outside, as those parties' own clients would, so they may.)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MESSAGING = ROOT / "libs/common/src/gridloop_common/messaging"
TEST_KIT = ROOT / "libs/common/src/gridloop_common/testing"
BROKER_CLIENTS = ("aio_pika", "aiormq", "pamqp")


def service_sources() -> list[Path]:
    sources = [*ROOT.glob("libs/common/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
    assert len(sources) > 100, "the glob no longer finds the sources"
    return sources


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_only_the_messaging_package_imports_a_broker_client() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in service_sources()
        if not path.is_relative_to(MESSAGING)
        and not path.is_relative_to(TEST_KIT)
        and any(m.split(".")[0] in BROKER_CLIENTS for m in imported_modules(path))
    )
    assert offenders == []


def test_the_check_sees_an_import_of_the_broker_client() -> None:
    # The walk above would pass vacuously if it missed imports: the messaging package has them.
    assert any(
        "aio_pika" in {m.split(".")[0] for m in imported_modules(path)}
        for path in MESSAGING.glob("*.py")
    )


def speaks_mongodb(path: Path) -> bool:
    """A `$`-operator key in a dict literal, or the raw `Document` type, anywhere in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and any(
            isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value[:1] == "$"
            for key in node.keys
        ):
            return True
        if (isinstance(node, ast.Name) and node.id == "Document") or (
            isinstance(node, ast.alias) and node.name == "Document"
        ):
            return True
    return False


def test_queries_live_in_repository_modules() -> None:
    services = sorted(ROOT.glob("services/*/src/**/*.py"))
    outside = {
        str(path.relative_to(ROOT))
        for path in services
        if "repository" not in path.relative_to(ROOT).parts[-1]
        and "repository" not in path.relative_to(ROOT).parts[:-1]
        and speaks_mongodb(path)
    }
    assert outside == set(), "MongoDB's query language outside a repository module"


def test_the_query_check_sees_a_query() -> None:
    assert speaks_mongodb(ROOT / "services/dispatch/src/gridloop_dispatch/repository.py")
