"""What the console knows of one case: a pure fold of its timeline.

The fold is the projection's only logic. It depends on the set of entries, never on the order
they arrived in (entries are sorted by when things happened), so a redelivered or overtaken
event changes nothing that a timely one would not. Colours are judged at read time from the
clocks' deadlines and what sla-monitor announced: an order turns red when its deadline passes
even if the breach event is still on its way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gridloop_console.timeline import Entry

# The seed's threshold for yellow, as sla-monitor's default SLA_WARNING_THRESHOLDS: a clock is
# yellow once three quarters of its window have passed, whether or not the warning was heard.
WARNING_FRACTION = 0.75


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


SEVERITY = {Colour.GREEN: 0, Colour.YELLOW: 1, Colour.RED: 2}


class Status(StrEnum):
    REPORTED = "reported"  # only the report is known (or an event about it overtook the rest)
    ESCALATED = "escalated"  # the village handed it to the center, not routed yet
    DISPATCHED = "dispatched"  # orders out, none accepted
    IN_PROGRESS = "in_progress"  # an open order is accepted
    REJECTED = "rejected"  # every order rejected: the center or the fallback rule acts next
    COMPLETED = "completed"  # done, waiting for the reporter's feedback
    CLOSED = "closed"
    RESOLVED_LOCALLY = "resolved_locally"


ENDED = frozenset({Status.CLOSED, Status.RESOLVED_LOCALLY})


@dataclass(frozen=True)
class RunningClock:
    """One clock of an open order: accept-by until accepted, complete-by until completed."""

    clock: str
    started_at: datetime
    deadline: datetime
    # The latest announcement sla-monitor made about it: "warning" or "breached" (or None).
    heard: str | None = None

    def colour(self, now: datetime) -> Colour:
        if self.heard == "breached" or now >= self.deadline:
            return Colour.RED
        yellow_from = self.started_at + (self.deadline - self.started_at) * WARNING_FRACTION
        if self.heard == "warning" or now >= yellow_from:
            return Colour.YELLOW
        return Colour.GREEN

    def to_document(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "started_at": self.started_at,
            "deadline": self.deadline,
            "heard": self.heard,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> RunningClock:
        return cls(
            clock=document["clock"],
            started_at=document["started_at"],
            deadline=document["deadline"],
            heard=document.get("heard"),
        )


@dataclass
class OrderView:
    order_id: str
    department: str
    dispatched_at: datetime
    accept_by: datetime
    complete_by: datetime
    role: str | None = None
    reason: str | None = None
    accepted_at: datetime | None = None
    rejected_at: datetime | None = None
    reason_code: str | None = None
    completed_at: datetime | None = None
    # clock → what sla-monitor last said about it (warning, breached, met, settled_late).
    heard: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.rejected_at is None and self.completed_at is None

    def running_clocks(self) -> list[RunningClock]:
        if not self.is_open:
            return []
        clocks = []
        if self.accepted_at is None:
            clocks.append(self._clock("accept", self.accept_by))
        clocks.append(self._clock("complete", self.complete_by))
        return [c for c in clocks if c.heard not in ("met", "settled_late")]

    def _clock(self, name: str, deadline: datetime) -> RunningClock:
        heard = self.heard.get(name)
        return RunningClock(name, self.dispatched_at, deadline, heard)


@dataclass
class CaseView:
    case_id: str
    entries: list[Entry]
    orders: dict[str, OrderView] = field(default_factory=dict)
    escalated: bool = False
    resolved_at: datetime | None = None
    completed_at: datetime | None = None
    completed_in_time: bool | None = None
    closed_at: datetime | None = None
    satisfied: bool | None = None
    reopens: int = 0
    flagged: bool = False
    first_dispatched_at: datetime | None = None
    # Whether the case's first acceptance came within its order's accept window (受理).
    accepted_in_time: bool | None = None

    @property
    def status(self) -> Status:
        if self.closed_at is not None:
            return Status.CLOSED
        if self.resolved_at is not None:
            return Status.RESOLVED_LOCALLY
        open_orders = self.open_orders()
        if open_orders:
            accepted = any(o.accepted_at is not None for o in open_orders)
            return Status.IN_PROGRESS if accepted else Status.DISPATCHED
        if self.completed_at is not None:
            return Status.COMPLETED
        if self.orders:
            return Status.REJECTED
        return Status.ESCALATED if self.escalated else Status.REPORTED

    def open_orders(self) -> list[OrderView]:
        if self.closed_at is not None or self.resolved_at is not None:
            return []
        return [order for order in self.orders.values() if order.is_open]

    def colour(self, now: datetime) -> Colour | None:
        """The worst colour of the case's running clocks; None when no clock runs."""
        return worst(c.colour(now) for o in self.open_orders() for c in o.running_clocks())


def worst(colours: Iterable[Colour]) -> Colour | None:
    return max(colours, key=SEVERITY.__getitem__, default=None)


def fold(case_id: str, entries: Sequence[Entry]) -> CaseView:
    view = CaseView(case_id, sorted(entries, key=Entry.sort_key))
    for entry in view.entries:
        _apply(view, entry)
    return view


def _apply(view: CaseView, entry: Entry) -> None:  # noqa: PLR0912 - one branch per kind
    detail = entry.detail
    order = view.orders.get(entry.order_id or "")
    kind = entry.kind
    if kind == "dispatched" and entry.order_id and entry.department:
        view.orders[entry.order_id] = OrderView(
            order_id=entry.order_id,
            department=entry.department,
            dispatched_at=entry.at,
            accept_by=detail["accept_by"],
            complete_by=detail["complete_by"],
            role=detail.get("role"),
            reason=detail.get("reason"),
        )
        if view.first_dispatched_at is None:
            view.first_dispatched_at = entry.at
        if detail.get("reason") == "reopened":
            view.completed_at = view.completed_in_time = None
    elif kind == "escalated":
        view.escalated = True
    elif kind == "resolved_locally":
        view.resolved_at = entry.at
    elif kind == "closed":
        view.closed_at = entry.at
        view.satisfied = bool(detail.get("satisfied"))
    elif kind == "reopened":
        view.reopens = int(detail.get("reopens", view.reopens + 1))
        view.completed_at = view.completed_in_time = None
    elif kind == "flagged":
        view.flagged = True
    elif order is None:
        return  # an order's event that overtook its dispatch: kept in the timeline, folded later
    elif kind == "accepted":
        order.accepted_at = entry.at
        if view.accepted_in_time is None:
            view.accepted_in_time = entry.at <= order.accept_by
    elif kind == "rejected":
        order.rejected_at = entry.at
        order.reason_code = detail.get("reason_code")
    elif kind == "completed":
        order.completed_at = entry.at
        if detail.get("case_complete", True):
            view.completed_at = entry.at
            view.completed_in_time = entry.at <= order.complete_by
    elif kind == "extended":
        order.complete_by = detail["complete_by"]
    elif kind.startswith("sla_") and "clock" in detail:
        order.heard[detail["clock"]] = kind.removeprefix("sla_")


def summary(view: CaseView) -> dict[str, Any]:
    """The fields the console's queries filter and sort on, stored beside the entries."""
    open_orders = view.open_orders()
    clocks = [c for o in open_orders for c in o.running_clocks()]
    return {
        "status": str(view.status),
        "open": bool(open_orders),
        "departments": sorted({o.department for o in open_orders}),
        "open_orders": [
            {
                "order_id": o.order_id,
                "department": o.department,
                "accepted": o.accepted_at is not None,
                "clocks": [c.to_document() for c in o.running_clocks()],
            }
            for o in open_orders
        ],
        "next_deadline": min((c.deadline for c in clocks), default=None),
        "dispatched_at": view.first_dispatched_at,
        "accepted_in_time": view.accepted_in_time,
        "completed_at": view.completed_at,
        "completed_in_time": view.completed_in_time,
        "closed_at": view.closed_at,
        "satisfied": view.satisfied,
        "reopens": view.reopens,
        "flagged": view.flagged,
    }
