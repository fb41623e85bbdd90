"""Pure rules turning a consumed event into the one fact scoring keeps about it.

A fact says what happened (`kind`), when it happened (`occurred_at`, the event's own time), to
which order and case, and under which entities it is counted (`entities`, see levels.py). It also
keeps the few details the figures need: deadlines, the handler, satisfaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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
    ReportReceived,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.contracts.reports import UNLOCATED
from gridloop_common.contracts.sla import ClockName, SlaEvent
from gridloop_common.periods import month_key
from gridloop_scoring.levels import Level, entity_key, handler_id

FactKind = Literal[
    "reported",
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
ScoredEvent = (
    ReportReceived | CaseEvent | CaseAreaEvent | SlaBreached | SlaMet | SlaWarning | SlaSettledLate
)
# The village and township a grid lies in, from the registry; (None, None) when unknown.
AreaOf = Callable[[str], tuple[str | None, str | None]]

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
SLA_FACTS: dict[type[SlaEvent], tuple[FactKind, str]] = {
    SlaBreached: ("sla_breached", "fired_at"),
    SlaMet: ("sla_met", "met_at"),
    SlaWarning: ("sla_warning", "fired_at"),
    SlaSettledLate: ("sla_settled_late", "settled_at"),
}


@dataclass(frozen=True, slots=True)
class Fact:
    """Keyed by the CloudEvent id, so a redelivered event maps onto the fact already stored."""

    event_id: str
    kind: FactKind
    case_id: str | None
    # None for what happened before any order (reports, escalations, local resolutions).
    order_id: str | None
    department: str | None
    grid_id: str | None
    village_id: str | None
    township_id: str | None
    category_code: str | None
    # When the thing happened (the event's own time), not when scoring heard of it: a message
    # retried across midnight of a month's end still counts in the month it happened.
    occurred_at: datetime
    received_at: datetime
    # Entity keys the fact is counted under in the period it happened.
    entities: tuple[str, ...] = ()
    # Kind-specific details (None where the kind has none).
    handler: str | None = None
    worker: str | None = None
    clock: ClockName | None = None
    accept_by: datetime | None = None
    complete_by: datetime | None = None
    satisfied: bool | None = None
    # On a completion: False for a cooperating unit's part of a joint action.
    case_complete: bool | None = None
    report_id: str | None = None

    @property
    def month(self) -> str:
        """The month it happened in, in the city's time: the month it counts in."""
        return month_key(self.occurred_at)


@dataclass(frozen=True, slots=True)
class FactSummary:
    """What a fact counts toward, without the rest: its kind, the month it happened in, the
    entities it counts under and its order. The recompute loop's notes are these, and so are
    the facts it reads to count an entity's or a month's events (a narrow read)."""

    event_id: str
    kind: FactKind
    month: str
    entities: tuple[str, ...]
    order_id: str | None


def fact_from_event(
    event: ScoredEvent, event_id: str, received_at: datetime, area_of: AreaOf
) -> Fact:
    if isinstance(event, ReportReceived):
        return _report_fact(event, event_id, received_at, area_of)
    if isinstance(event, SlaEvent):
        return _sla_fact(event, event_id, received_at, area_of)
    return _case_fact(event, event_id, received_at, area_of)


@dataclass(frozen=True)
class Place:
    """Where a fact happened, as far as known: its grid, village and township."""

    grid_id: str | None
    village_id: str | None
    township_id: str | None

    @classmethod
    def of(
        cls, grid_id: str | None, village_id: str | None, township_id: str | None, area_of: AreaOf
    ) -> Place:
        """The event's own fields, completed from the registry (SLA events name no village)."""
        if grid_id is None or grid_id == UNLOCATED:
            return cls(None, village_id, township_id)
        registry_village, registry_township = area_of(grid_id)
        return cls(grid_id, village_id or registry_village, township_id or registry_township)

    def entities(self) -> list[str]:
        levels: tuple[tuple[Level, str | None], ...] = (
            ("grid", self.grid_id),
            ("village", self.village_id),
            ("township", self.township_id),
        )
        return [entity_key(level, value) for level, value in levels if value]


def _report_fact(
    event: ReportReceived, event_id: str, received_at: datetime, area_of: AreaOf
) -> Fact:
    place = Place.of(event.grid_id, event.village_id, event.township_id, area_of)
    # Only patrol reports are a grid worker's own work; a chat group's report is a resident's.
    worker = event.worker_id if event.channel == "patrol" else None
    entities = place.entities()
    if worker:
        entities.append(entity_key("grid_worker", worker))
    return Fact(
        event_id=event_id,
        kind="reported",
        case_id=None,
        order_id=None,
        department=None,
        **vars(place),
        category_code=event.category_code,
        occurred_at=event.reported_at,
        received_at=received_at,
        entities=tuple(entities),
        worker=worker,
        report_id=event.report_id,
    )


def _sla_fact(event: SlaEvent, event_id: str, received_at: datetime, area_of: AreaOf) -> Fact:
    kind, when = SLA_FACTS[type(event)]
    place = Place.of(event.grid_id, None, event.township_id, area_of)
    return Fact(
        event_id=event_id,
        kind=kind,
        case_id=event.case_id,
        order_id=event.order_id,
        department=event.department,
        **vars(place),
        category_code=event.category_code,
        occurred_at=getattr(event, when),
        received_at=received_at,
        entities=(entity_key("department", event.department), *place.entities()),
        clock=event.clock,
    )


def _case_fact(
    event: CaseEvent | CaseAreaEvent, event_id: str, received_at: datetime, area_of: AreaOf
) -> Fact:
    kind, when = CASE_FACTS[type(event)]
    place = Place.of(event.grid_id, event.village_id, event.township_id, area_of)
    entities = place.entities()
    department = order_id = handler = worker = None
    if isinstance(event, CaseEvent):
        department, order_id = event.department, event.order_id
        entities.insert(0, entity_key("department", department))
        if isinstance(event, CaseAccepted | CaseCompleted) and event.handler:
            handler = event.handler
            entities.append(entity_key("handler", handler_id(department, handler)))
    elif isinstance(event, CaseResolvedLocally) and event.operator:
        # Solved on the spot: the work of whoever resolved it (the grid worker).
        worker = event.operator
        entities.append(entity_key("grid_worker", worker))
    return Fact(
        event_id=event_id,
        kind=kind,
        case_id=event.case_id,
        order_id=order_id,
        department=department,
        **vars(place),
        category_code=event.category_code,
        occurred_at=getattr(event, when),
        received_at=received_at,
        entities=tuple(entities),
        handler=handler,
        worker=worker,
        accept_by=event.accept_by if isinstance(event, CaseDispatched) else None,
        complete_by=event.complete_by if isinstance(event, CaseDispatched | CaseExtended) else None,
        satisfied=event.satisfied if isinstance(event, CaseClosed) else None,
        case_complete=event.case_complete if isinstance(event, CaseCompleted) else None,
        report_id=event.report_id,
    )
