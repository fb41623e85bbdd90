"""Pure views over stored clocks: the SLA board (colours, most overdue first) and on-time rates."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridloop_sla_monitor.calendars import Calendars
from gridloop_sla_monitor.clocks import Colour, Mark, TimerState, Verdict, colour, fraction

UNLOCATED = "unlocated"
SEVERITY = {Colour.GREEN: 0, Colour.YELLOW: 1, Colour.RED: 2}


@dataclass(frozen=True)
class OpenClock:
    order_id: str
    case_id: str
    department: str
    township_id: str | None
    clock: str
    state: TimerState
    started_at: datetime
    due_at: datetime
    marks: tuple[Mark, ...]
    calendar: str


@dataclass(frozen=True)
class ClockStatus:
    clock: str
    colour: Colour
    due_at: datetime
    fraction: float


@dataclass(frozen=True)
class OrderStatus:
    """An open order on the board: the worst colour of its open clocks."""

    order_id: str
    case_id: str
    department: str
    township_id: str
    colour: Colour
    # Seconds past the earliest open deadline; negative while time is left.
    overdue_seconds: float
    clocks: tuple[ClockStatus, ...]

    def rank(self) -> tuple[int, float]:
        """Most overdue first; among orders not yet overdue, the least time left first."""
        return (-SEVERITY[self.colour], -self.overdue_seconds)


def order_statuses(
    clocks: Iterable[OpenClock], now: datetime, calendars: Calendars
) -> list[OrderStatus]:
    by_order: dict[str, list[OpenClock]] = defaultdict(list)
    for open_clock in clocks:
        by_order[open_clock.order_id].append(open_clock)
    statuses = []
    for order_id, group in by_order.items():
        views = tuple(
            ClockStatus(
                clock=c.clock,
                colour=colour(c.marks, c.state, now),
                due_at=c.due_at,
                fraction=round(
                    fraction(c.started_at, c.due_at, now, calendars.named(c.calendar)), 4
                ),
            )
            for c in sorted(group, key=lambda c: c.due_at)
        )
        worst = max((v.colour for v in views), key=SEVERITY.__getitem__)
        first = group[0]
        statuses.append(
            OrderStatus(
                order_id=order_id,
                case_id=first.case_id,
                department=first.department,
                township_id=first.township_id or UNLOCATED,
                colour=worst,
                overdue_seconds=round((now - views[0].due_at).total_seconds(), 3),
                clocks=views,
            )
        )
    statuses.sort(key=OrderStatus.rank)
    return statuses


@dataclass
class Group:
    key: str
    counts: Counter[Colour] = field(default_factory=Counter)
    orders: list[OrderStatus] = field(default_factory=list)

    def view(self, limit: int) -> dict[str, Any]:
        return {
            **{c.value: self.counts[c] for c in Colour},
            "open": sum(self.counts.values()),
            "orders": [order_view(o) for o in self.orders[:limit]],
        }


def order_view(order: OrderStatus) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "case_id": order.case_id,
        "department": order.department,
        "township_id": order.township_id,
        "colour": order.colour.value,
        "overdue_seconds": order.overdue_seconds,
        "clocks": [
            {
                "clock": c.clock,
                "colour": c.colour.value,
                "due_at": c.due_at,
                "fraction": c.fraction,
            }
            for c in order.clocks
        ],
    }


def board(statuses: Sequence[OrderStatus], now: datetime, limit: int) -> dict[str, Any]:
    """Counts by colour per department and per township, each with its most overdue orders."""
    departments: dict[str, Group] = {}
    townships: dict[str, Group] = {}
    totals: Counter[Colour] = Counter()
    for status in statuses:  # already most overdue first
        totals[status.colour] += 1
        for groups, key in ((departments, status.department), (townships, status.township_id)):
            group = groups.setdefault(key, Group(key))
            group.counts[status.colour] += 1
            group.orders.append(status)

    def ordered(groups: dict[str, Group], name: str) -> list[dict[str, Any]]:
        # Worst first: most red, then most yellow, then by name.
        rows = sorted(
            groups.values(),
            key=lambda g: (-g.counts[Colour.RED], -g.counts[Colour.YELLOW], g.key),
        )
        return [{name: g.key, **g.view(limit)} for g in rows]

    return {
        "as_of": now,
        "totals": {**{c.value: totals[c] for c in Colour}, "open": len(statuses)},
        "most_overdue": [order_view(o) for o in statuses[:limit]],
        "departments": ordered(departments, "department"),
        "townships": ordered(townships, "township_id"),
    }


@dataclass(frozen=True)
class VerdictRow:
    clock: str
    verdict: Verdict
    department: str


def rate_view(counter: Counter[Verdict]) -> dict[str, Any]:
    on_time, late = counter[Verdict.MET], counter[Verdict.LATE]
    decided = on_time + late
    return {
        "on_time": on_time,
        "late": late,
        # None rather than 1.0 or 0.0 when nothing was decided: no data is not a perfect score.
        "rate": round(on_time / decided, 4) if decided else None,
    }


def rates(rows: Iterable[VerdictRow]) -> dict[str, Any]:
    """On-time acceptance and completion per department and overall."""
    overall: dict[str, Counter[Verdict]] = {"accept": Counter(), "complete": Counter()}
    per: dict[str, dict[str, Counter[Verdict]]] = defaultdict(
        lambda: {"accept": Counter(), "complete": Counter()}
    )
    for row in rows:
        overall[row.clock][row.verdict] += 1
        per[row.department][row.clock][row.verdict] += 1
    return {
        "overall": {
            "acceptance": rate_view(overall["accept"]),
            "completion": rate_view(overall["complete"]),
        },
        "departments": [
            {
                "department": department,
                "acceptance": rate_view(counters["accept"]),
                "completion": rate_view(counters["complete"]),
            }
            for department, counters in sorted(per.items())
        ],
    }
