"""tools/audit_dependencies.py: a finding fails, an audit that could not run says so and passes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gridloop_tools_audit", ROOT / "tools" / "audit_dependencies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


VULNERABLE_CANARY = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "2.4.1",
            "vulns": [{"id": "PYSEC-2014-8", "fix_versions": ["2.7.2"]}],
        }
    ]
}
CLEAN = {"dependencies": [{"name": "httpx", "version": "0.28.1", "vulns": []}]}
ONE_FINDING = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {"name": "urllib3", "version": "2.0.0", "vulns": [{"id": "GHSA-x", "fix_versions": []}]},
    ]
}
SERVICE_SAYS_NOTHING = {
    "dependencies": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI"}]
}


def _run(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch, reports: list[dict[str, Any] | None]
) -> int:
    answers = iter(reports)
    monkeypatch.setattr(tool, "audit", lambda requirements, service: next(answers))
    monkeypatch.setattr(tool, "locked_requirements", lambda into: into.write_text(""))
    result: int = tool.main([])
    return result


def test_a_known_vulnerability_fails_and_names_the_advisory(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tool, monkeypatch, [VULNERABLE_CANARY, ONE_FINDING]) == 1
    said = capsys.readouterr().out
    assert "VULNERABLE urllib3 2.0.0: GHSA-x (fixed in no fixed release)" in said
    assert "2 locked packages, 1 known vulnerabilities" in said


def test_a_clean_lock_passes(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tool, monkeypatch, [VULNERABLE_CANARY, CLEAN]) == 0
    assert "1 locked packages, 0 known vulnerabilities" in capsys.readouterr().out


@pytest.mark.parametrize("canary", [SERVICE_SAYS_NOTHING, None])
def test_a_service_that_does_not_answer_the_canary_is_reported_not_trusted(
    tool: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    canary: dict[str, Any] | None,
) -> None:
    # The lock is never audited then: "no known vulnerabilities" would be a false all-clear.
    assert _run(tool, monkeypatch, [canary]) == 0
    assert "audit: NOT RUN: the advisory service (pypi) did not answer" in capsys.readouterr().out
