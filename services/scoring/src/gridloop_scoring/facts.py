"""Pure rules turning a case or SLA event into the one fact scoring keeps about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gridloop_common.contracts import (
    CaseAccepted,
    CaseAreaEvent,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseEvent,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseReplyRefused,
    CaseResolvedLocally,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.contracts.sla import ClockName
from gridloop_common.periods import period_keys

FactKind = Literal[
    "dispatched",
    "accepted",
    "rejected",
    "completed",
    "closed",
    "extended",
    "reopened",
    "flagged",
    "reply_refused",
    "escalated",
    "resolved_locally",
    "sla_breached",
    "sla_met",
    "sla_warning",
    "sla_settled_late",
]
ScoredEvent = CaseEvent | CaseAreaEvent | SlaBreached | SlaMet | SlaWarning | SlaSettledLate

# Each case event's fact kind and the field saying when it happened.
CASE_FACTS: dict[type[CaseEvent | CaseAreaEvent], tuple[FactKind, str]] = {
    CaseDispatched: ("dispatched", "dispatched_at"),
    CaseAccepted: ("accepted", "accepted_at"),
    CaseRejected: ("rejected", "rejected_at"),
    CaseCompleted: ("completed", "completed_at"),
    CaseClosed: ("closed", "closed_at"),
    CaseExtended: ("extended", "extended_at"),
    CaseReopened: ("reopened", "reopened_at"),
    CaseFlagged: ("flagged", "flagged_at"),
    CaseReplyRefused: ("reply_refused", "refused_at"),
    CaseEscalated: ("escalated", "escalated_at"),
    CaseResolvedLocally: ("resolved_locally", "resolved_at"),
}


@dataclass(frozen=True)
class Fact:
    """Keyed by the CloudEvent id, so a redelivered event maps onto the fact already stored."""

    event_id: str
    kind: FactKind
    # None for what happened before any order (escalated, resolved locally at village level).
    department: str | None
    case_id: str
    order_id: str | None
    # Optional on SLA events (sla-monitor may not know them); always set on case events.
    grid_id: str | None
    township_id: str | None
    category_code: str | None
    # When the thing happened (the event's own time), not when scoring heard of it: a message
    # retried across midnight of a month's end still counts in the month it happened.
    occurred_at: datetime
    received_at: datetime
    clock: ClockName | None = None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "_id": self.event_id,
            "kind": self.kind,
            "department": self.department,
            "case_id": self.case_id,
            "order_id": self.order_id,
            "grid_id": self.grid_id,
            "township_id": self.township_id,
            "category_code": self.category_code,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            # Stored time buckets: rankings group by equality on them, and a sharded cluster
            # can key on bucket + department (DESIGN.md, scaling out).
            **period_keys(self.occurred_at),
        }
        if self.clock is not None:
            document["clock"] = self.clock
        return document


def fact_from_event(event: ScoredEvent, event_id: str, received_at: datetime) -> Fact:
    kind: FactKind
    clock: ClockName | None = None
    if isinstance(event, SlaBreached):
        kind, occurred_at, clock = "sla_breached", event.fired_at, event.clock
    elif isinstance(event, SlaMet):
        kind, occurred_at, clock = "sla_met", event.met_at, event.clock
    elif isinstance(event, SlaWarning):
        kind, occurred_at, clock = "sla_warning", event.fired_at, event.clock
    elif isinstance(event, SlaSettledLate):
        kind, occurred_at, clock = "sla_settled_late", event.settled_at, event.clock
    else:
        kind, when = CASE_FACTS[type(event)]
        occurred_at = getattr(event, when)
    return Fact(
        event_id=event_id,
        kind=kind,
        department=getattr(event, "department", None),
        case_id=event.case_id,
        order_id=getattr(event, "order_id", None),
        grid_id=event.grid_id,
        township_id=event.township_id,
        category_code=event.category_code,
        occurred_at=occurred_at,
        received_at=received_at,
        clock=clock,
    )
