"""Pure rules turning a case or SLA event into the one fact scoring keeps about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gridloop_common.contracts import CaseAccepted, CaseDispatched, SlaBreached, SlaMet
from gridloop_common.contracts.sla import ClockName
from gridloop_scoring.periods import period_keys

FactKind = Literal["dispatched", "accepted", "sla_breached", "sla_met"]
ScoredEvent = CaseDispatched | CaseAccepted | SlaBreached | SlaMet


@dataclass(frozen=True)
class Fact:
    """Keyed by the CloudEvent id, so a redelivered event maps onto the fact already stored."""

    event_id: str
    kind: FactKind
    department: str
    case_id: str
    order_id: str
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
    if isinstance(event, CaseDispatched):
        kind, occurred_at = "dispatched", event.dispatched_at
    elif isinstance(event, CaseAccepted):
        kind, occurred_at = "accepted", event.accepted_at
    elif isinstance(event, SlaBreached):
        kind, occurred_at, clock = "sla_breached", event.fired_at, event.clock
    else:
        kind, occurred_at, clock = "sla_met", event.met_at, event.clock
    return Fact(
        event_id=event_id,
        kind=kind,
        department=event.department,
        case_id=event.case_id,
        order_id=event.order_id,
        grid_id=event.grid_id,
        township_id=event.township_id,
        category_code=event.category_code,
        occurred_at=occurred_at,
        received_at=received_at,
        clock=clock,
    )
