"""The benchmarks are not run in CI, but they must at least start: each answers --help.

bench/notify once imported a helper removed from notify and nobody noticed until it was run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every benchmark takes arguments; the helpers they start or import (a receiver, a baseline
# server, stories) do not.
SCRIPTS = sorted(
    path.relative_to(ROOT)
    for path in (ROOT / "bench").glob("*/*.py")
    if "argparse.ArgumentParser" in path.read_text(encoding="utf-8")
)


def test_every_benchmark_has_a_script() -> None:
    assert {path.parent.name for path in SCRIPTS} >= {"intake", "notify", "scoring", "sla"}


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_a_benchmark_script_imports_and_explains_itself(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()
