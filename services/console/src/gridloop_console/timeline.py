"""A case's timeline: one entry per event the console shows, in the order things happened.

Pure: an event becomes an `Entry` (what, when, which order and unit, the few details a page
shows); the read model stores entries, never whole events, so a resident's report text is the
only free text kept and no contact detail ever is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseResolvedLocally,
    Message,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.contracts.sla import SlaEvent

Detail = dict[str, Any]  # str, bool, int, float or datetime values only (stored as they are)


@dataclass(frozen=True)
class Entry:
    event_id: str
    kind: str
    at: datetime
    order_id: str | None = None
    department: str | None = None
    detail: Detail = field(default_factory=dict)

    def sort_key(self) -> tuple[datetime, int, str]:
        # Two entries of one instant: the one that must come first in a case's life does.
        return (self.at, KIND_ORDER.index(self.kind), self.event_id)

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "kind": self.kind,
            "at": self.at,
            "order_id": self.order_id,
            "department": self.department,
            "detail": self.detail,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Entry:
        return cls(
            event_id=document["id"],
            kind=document["kind"],
            at=document["at"],
            order_id=document.get("order_id"),
            department=document.get("department"),
            detail=document.get("detail") or {},
        )


# Every kind of entry, in the order a case lives through them (the tie-break of one instant).
KIND_ORDER = (
    "escalated",
    "resolved_locally",
    "dispatched",
    "reopened",
    "sla_warning",
    "accepted",
    "extended",
    "sla_met",
    "sla_breached",
    "sla_settled_late",
    "rejected",
    "flagged",
    "completed",
    "closed",
)


def _without_none(**values: Any) -> Detail:
    return {name: value for name, value in values.items() if value is not None}


def _dispatched(event: CaseDispatched) -> tuple[datetime, Detail]:
    return event.dispatched_at, _without_none(
        accept_by=event.accept_by,
        complete_by=event.complete_by,
        role=event.role,
        reason=event.dispatch_reason,
        previous_order_id=event.previous_order_id,
    )


def _accepted(event: CaseAccepted) -> tuple[datetime, Detail]:
    return event.accepted_at, _without_none(handler=event.handler)


def _rejected(event: CaseRejected) -> tuple[datetime, Detail]:
    return event.rejected_at, _without_none(
        reason_code=event.reason_code, reason_text=event.reason_text
    )


def _completed(event: CaseCompleted) -> tuple[datetime, Detail]:
    return event.completed_at, _without_none(
        result=event.result, case_complete=event.case_complete, role=event.role
    )


def _closed(event: CaseClosed) -> tuple[datetime, Detail]:
    return event.closed_at, _without_none(
        satisfied=event.satisfied, comment=event.comment, reopens=event.reopens
    )


def _extended(event: CaseExtended) -> tuple[datetime, Detail]:
    return event.extended_at, _without_none(
        complete_by=event.complete_by,
        previous_complete_by=event.previous_complete_by,
        reason=event.reason,
    )


def _reopened(event: CaseReopened) -> tuple[datetime, Detail]:
    return event.reopened_at, _without_none(
        previous_order_id=event.previous_order_id, reopens=event.reopens, comment=event.comment
    )


def _flagged(event: CaseFlagged) -> tuple[datetime, Detail]:
    return event.flagged_at, {"bounces": event.bounces, "threshold": event.threshold}


def _escalated(event: CaseEscalated) -> tuple[datetime, Detail]:
    return event.escalated_at, _without_none(note=event.note)


def _resolved_locally(event: CaseResolvedLocally) -> tuple[datetime, Detail]:
    return event.resolved_at, {"resolution": event.resolution}


def _sla(event: SlaEvent, at: datetime, **extra: Any) -> tuple[datetime, Detail]:
    return at, _without_none(
        clock=event.clock, deadline=event.deadline, started_at=event.started_at, **extra
    )


def _warning(event: SlaWarning) -> tuple[datetime, Detail]:
    return _sla(event, event.fired_at, threshold=event.threshold)


def _breached(event: SlaBreached) -> tuple[datetime, Detail]:
    return _sla(event, event.fired_at, late_seconds=event.late_seconds)


def _met(event: SlaMet) -> tuple[datetime, Detail]:
    return _sla(event, event.met_at)


def _settled_late(event: SlaSettledLate) -> tuple[datetime, Detail]:
    return _sla(event, event.settled_at, late_seconds=event.late_seconds)


_ENTRIES: dict[type[Message], tuple[str, Callable[[Any], tuple[datetime, Detail]]]] = {
    CaseDispatched: ("dispatched", _dispatched),
    CaseAccepted: ("accepted", _accepted),
    CaseRejected: ("rejected", _rejected),
    CaseCompleted: ("completed", _completed),
    CaseClosed: ("closed", _closed),
    CaseExtended: ("extended", _extended),
    CaseReopened: ("reopened", _reopened),
    CaseFlagged: ("flagged", _flagged),
    CaseEscalated: ("escalated", _escalated),
    CaseResolvedLocally: ("resolved_locally", _resolved_locally),
    SlaWarning: ("sla_warning", _warning),
    SlaBreached: ("sla_breached", _breached),
    SlaMet: ("sla_met", _met),
    SlaSettledLate: ("sla_settled_late", _settled_late),
}
# The events a case's timeline is made of: the console's subscriptions besides reports.
TIMELINE_EVENTS: tuple[type[Message], ...] = tuple(_ENTRIES)


def entry_of(event: Message, event_id: str) -> Entry:
    kind, details = _ENTRIES[type(event)]
    at, detail = details(event)
    return Entry(
        event_id=event_id,
        kind=kind,
        at=at,
        order_id=getattr(event, "order_id", None),
        department=getattr(event, "department", None),
        detail=detail,
    )


def merged(entries: list[Entry], new: Entry) -> list[Entry] | None:
    """`entries` with `new` in its place, or None when it is there already (a redelivery)."""
    if any(entry.event_id == new.event_id for entry in entries):
        return None
    return sorted([*entries, new], key=Entry.sort_key)
