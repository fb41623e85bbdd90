"""The fault suite's table: one row per fault (and the calm start), one total row."""

from __future__ import annotations

import platform
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass

from rich.table import Table

from gridloop_chaos.run import ChaosRun


@dataclass
class Row:
    name: str
    starts_at: float
    reports: int = 0
    lost: int = 0
    duplicated: int = 0
    repeats: int = 0
    ready_after: float | None = None
    first_flow: float | None = None
    skipped: str | None = None


def rows(run: ChaosRun) -> list[Row]:
    """Everything that happened between one fault's strike and the next belongs to that fault."""
    table = [Row("calm start (no fault)", 0.0)]
    for outcome in run.outcomes:
        name = f"{outcome.name} — did not heal" if outcome.notes else outcome.name
        row = Row(name, outcome.started_at or table[-1].starts_at, skipped=outcome.skipped)
        row.ready_after = outcome.ready_after
        if outcome.healed_at:
            row.first_flow = _first_flow(run, outcome.healed_at)
        table.append(row)
    starts = [row.starts_at for row in table]

    def row_of(at: float) -> Row:
        return table[max(bisect_right(starts, at) - 1, 0)]

    for sent in run.record.reports:
        if sent.accepted:
            row_of(sent.sent_at).reports += 1
    for finding in run.audit.findings:
        row = row_of(finding.at)
        if finding.kind == "lost":
            row.lost += 1
        elif finding.kind in ("duplicate", "unexpected"):
            row.duplicated += 1
        elif finding.kind == "repeat":
            row.repeats += 1
    return table


def _first_flow(run: ChaosRun, healed_at: float) -> float | None:
    """Seconds from the fault's end to the next work order a department received: the loop
    flowing again end to end (report → case → order)."""
    later = [o.received_at for o in run.record.orders.values() if o.received_at >= healed_at]
    return min(later) - healed_at if later else None


def render(run: ChaosRun) -> Table:
    options = run.options
    table = Table(
        title=(
            f"gridloop fault suite — {options.reports} reports at {run.rate:.2f}/s, "
            f"{options.replicas} replicas per service, seed {options.seed}"
        ),
        caption=setup(run),
    )
    for column, justify in (
        ("fault", "left"),
        ("at s", "right"),
        ("reports 202", "right"),
        ("lost", "right"),
        ("duplicated or unexpected", "right"),
        ("repeats (allowed)", "right"),
        ("ready again s", "right"),
        ("next order s", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    all_rows = rows(run)
    for row in all_rows:
        if row.skipped:
            table.add_row(row.name, "", "", "", "", "", f"not run: {row.skipped}", "")
            continue
        table.add_row(
            row.name,
            f"{row.starts_at - run.started_at:.0f}" if row.starts_at else "0",
            str(row.reports),
            str(row.lost),
            str(row.duplicated),
            str(row.repeats),
            _seconds(row.ready_after),
            _seconds(row.first_flow),
        )
    readiness = [r.ready_after for r in all_rows if r.ready_after is not None]
    table.add_row(
        "total",
        f"{run.finished_at - run.started_at:.0f}",
        str(sum(r.reports for r in all_rows)),
        str(sum(r.lost for r in all_rows)),
        str(sum(r.duplicated for r in all_rows)),
        str(sum(r.repeats for r in all_rows)),
        f"max {_seconds(max(readiness, default=None))}",
        "",
        style="bold",
    )
    return table


def checked(run: ChaosRun) -> Table:
    table = Table(title="what the audit compared")
    table.add_column("check")
    table.add_column("items", justify="right")
    for name, count in sorted(run.audit.checked.items()):
        table.add_row(name, str(count))
    kinds = Counter(f.kind for f in run.audit.findings)
    for kind in ("lost", "duplicate", "unexpected", "repeat"):
        table.add_row(f"findings: {kind}", str(kinds[kind]))
    return table


def setup(run: ChaosRun) -> str:
    uname = platform.uname()
    return (
        f"{uname.system} {uname.machine}, Python {platform.python_version()}; "
        f"speed {run.options.speed:g} (accept window {28_800 / run.options.speed:g} s); "
        f"DELIVERY_LIMIT {run.options.delivery_limit}; settled: {run.settled}"
    )


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
