"""How scoring reacts to case and SLA events: each becomes one stored fact, at most once."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.clock import Clock
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
    CaseReplyRefused,
    CaseResolvedLocally,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.messaging import Delivery
from gridloop_scoring.facts import ScoredEvent, fact_from_event
from gridloop_scoring.repository import FactRepository

log = structlog.stdlib.get_logger("gridloop.scoring")


@dataclass(frozen=True)
class FactHandlers:
    facts: FactRepository
    clock: Clock

    async def on_dispatched(self, event: CaseDispatched, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_rejected(self, event: CaseRejected, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_completed(self, event: CaseCompleted, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_closed(self, event: CaseClosed, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_extended(self, event: CaseExtended, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_reopened(self, event: CaseReopened, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_flagged(self, event: CaseFlagged, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_reply_refused(self, event: CaseReplyRefused, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_escalated(self, event: CaseEscalated, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_resolved_locally(self, event: CaseResolvedLocally, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_sla_breached(self, event: SlaBreached, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_sla_met(self, event: SlaMet, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_sla_warning(self, event: SlaWarning, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def on_sla_settled_late(self, event: SlaSettledLate, delivery: Delivery) -> None:
        await self._record(event, delivery)

    async def _record(self, event: ScoredEvent, delivery: Delivery) -> None:
        fact = fact_from_event(event, delivery.event_id, self.clock.now())
        if await self.facts.add(fact):
            log.info("fact_recorded", kind=fact.kind, department=fact.department)
        else:
            # At-least-once delivery: the repeat is acked, the fact was counted the first time.
            log.info("fact_already_recorded", kind=fact.kind, department=fact.department)
