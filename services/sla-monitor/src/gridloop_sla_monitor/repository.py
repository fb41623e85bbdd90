"""SLA timers in sla-monitor's own database, each changed together with the events it causes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gridloop_common.contracts import CaseAccepted, CaseDispatched
from gridloop_common.contracts.sla import ClockName
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, Document, DuplicateKeyError, IndexSpec
from gridloop_common.outbox import RelayNow, with_outbox
from gridloop_sla_monitor.clocks import ACCEPT, ClockFacts, TimerState, timer_id

TIMERS = "timers"
# The breach scan asks "running and due by now, earliest first": this index answers it alone.
INDEXES = [IndexSpec(TIMERS, [("state", 1), ("due_at", 1)])]
CLOCKS: tuple[ClockName, ...] = ("accept", "complete")


def order_fields(event: CaseDispatched | CaseAccepted) -> Document:
    return {
        "order_id": event.order_id,
        "case_id": event.case_id,
        "department": event.department,
        "category_code": event.category_code,
        "grid_id": event.grid_id,
        "township_id": event.township_id,
    }


def accept_clock_start(
    event: CaseDispatched, event_id: str, correlation_id: str | None
) -> Document:
    """The fields a dispatch gives the accept clock (without its state)."""
    return {
        **order_fields(event),
        "clock": ACCEPT,
        "started_at": event.dispatched_at,
        "due_at": event.accept_by,
        "dispatch_event_id": event_id,
        "correlation_id": correlation_id,
    }


def stopped_accept_clock(
    event: CaseAccepted, event_id: str, correlation_id: str | None
) -> Document:
    """An accept clock whose acceptance came before its dispatch: no deadline known yet."""
    return {
        "_id": timer_id(event.order_id, ACCEPT),
        **order_fields(event),
        "clock": ACCEPT,
        "state": TimerState.STOPPED.value,
        "accepted_at": event.accepted_at,
        "accept_event_id": event_id,
        "correlation_id": correlation_id,
    }


def facts_of(document: Document) -> ClockFacts:
    return ClockFacts(
        order_id=document["order_id"],
        case_id=document["case_id"],
        department=document["department"],
        clock=document["clock"],
        due_at=document["due_at"],
        category_code=document.get("category_code"),
        grid_id=document.get("grid_id"),
        township_id=document.get("township_id"),
    )


class TimerRepository:
    def __init__(self, timers: Collection, relay_now: RelayNow) -> None:
        self.timers = timers
        self._relay_now = relay_now

    async def insert(self, document: Document) -> bool:
        """Store a new timer; False if its derived `_id` is taken (the work is already done)."""
        try:
            await self.timers.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, timer: str) -> Document | None:
        return await self.timers.find_one({"_id": timer}, {"outbox": 0})

    async def for_order(self, order_id: str) -> list[Document]:
        # By `_id`, so the lookup needs no index of its own.
        ids = [timer_id(order_id, clock) for clock in CLOCKS]
        cursor = self.timers.find({"_id": {"$in": ids}}, {"outbox": 0}).sort("started_at", 1)
        return [document async for document in cursor]

    async def due(self, now: datetime, limit: int) -> list[Document]:
        cursor = (
            self.timers.find(
                {"state": TimerState.RUNNING.value, "due_at": {"$lte": now}}, {"outbox": 0}
            )
            .sort("due_at", 1)
            .limit(limit)
        )
        return [document async for document in cursor]

    async def transition(
        self,
        timer: str,
        expected: Document,
        fields: Document,
        events: Sequence[Outgoing],
        now: datetime,
    ) -> bool:
        """Change a timer only if it still matches `expected`, its events in the same update.

        The condition is the claim: of several replicas or concurrent handlers, exactly one
        matches, so a clock fires or settles once. Returns whether this caller won.
        """
        update: dict[str, Any] = {"$set": fields}
        if events:
            update = with_outbox(update, events, now)
        result = await self.timers.update_one({"_id": timer, **expected}, update)
        if result.matched_count != 1:
            return False
        if events:
            self._relay_now(self.timers, timer)
        return True
