"""The fault suite's short run in `make test`: 300 reports while each fault strikes once.

Two replicas of every service, the city simulator playing every role, then the audit: nothing
answered 202 is lost, no effect happens twice, every replica comes back ready, and no
resident's phone number, ID-card number or name is in any log line, metric or parking reason.
The full run (10,000 reports, overlapping faults) is `make chaos`; its table is in
docs/reliability.md.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from rich.console import Console

from gridloop_chaos.run import ChaosOptions, run
from gridloop_chaos.table import checked, render

pytestmark = pytest.mark.integration

REPORTS = int(os.environ.get("CHAOS_CI_REPORTS", "300"))


@pytest.mark.timeout(900)  # the whole system started, struck twelve times and settled: minutes
async def test_every_fault_once_loses_nothing_and_repeats_no_effect(tmp_path: Path) -> None:
    logging.getLogger("aio_pika").setLevel(logging.CRITICAL)
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    lines: list[str] = []
    began = time.monotonic()

    def say(line: str) -> None:
        # Timed, so a slow run in CI shows which strike or the settle took the time.
        lines.append(f"{time.monotonic() - began:6.1f} s  {line}")

    result = await run(
        ChaosOptions(
            reports=REPORTS,
            hold=2.0,
            cut=6.0,
            gap=2.0,
            overlaps=False,
            max_complete_hours=24.0,
            broadcasts=1,
            city_notice=True,
            settle_timeout=300.0,
            work_dir=tmp_path,
        ),
        say,
    )
    console = Console(width=160, record=True)
    console.print(render(result))
    console.print(checked(result))
    report = console.export_text()
    print(report)  # the table in the test log, as `make chaos` prints it
    print("\n".join(lines))
    problems = [
        f"{f.kind} {f.check}: {f.detail}"
        for f in result.audit.findings
        if f.kind in ("lost", "duplicate", "unexpected")
    ]
    assert result.settled, "the city did not settle:\n" + "\n".join(lines[-20:])
    assert not problems, "\n".join(problems[:30])
    ran = [o for o in result.outcomes if o.skipped is None]
    assert len(ran) == len(result.outcomes), [o.skipped for o in result.outcomes if o.skipped]
    # Every fault healed: each replica came back ready (the harness waits up to 180 s). How fast
    # is a figure, printed in the table against the 30 s target, not an assertion: on two shared
    # cores five replicas starting at once took 11 s on a quiet day and 44 s on a busy one.
    unhealed = [o.name for o in ran if o.ready_after is None or o.notes]
    assert not unhealed, f"did not heal: {unhealed}"
    assert result.audit.checked["reports answered 202"] >= REPORTS * 0.9
