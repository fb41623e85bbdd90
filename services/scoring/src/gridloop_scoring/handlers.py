"""How scoring reacts to reports, case and SLA events: each becomes one stored fact, at most once,
and a note that its figures are to be marked for recomputation (see recompute.py)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.clock import Clock
from gridloop_common.messaging import Delivery
from gridloop_scoring.facts import AreaOf, ScoredEvent, fact_from_event
from gridloop_scoring.repository import FactStore

log = structlog.stdlib.get_logger("gridloop.scoring")


@dataclass(frozen=True)
class FactHandlers:
    facts: FactStore
    clock: Clock
    area_of: AreaOf

    async def record(self, event: ScoredEvent, delivery: Delivery) -> None:
        fact = fact_from_event(event, delivery.event_id, self.clock.now(), self.area_of)
        stored = await self.facts.add(fact)
        # Noted even for a repeat: the first delivery may have stored the fact and then died
        # before noting it. A needless note costs one recompute, never a wrong figure.
        await self.facts.note_unmarked(fact)
        if stored:
            log.info("fact_recorded", kind=fact.kind, department=fact.department)
        else:
            # At-least-once delivery: the repeat is acked, the fact was counted the first time.
            log.info("fact_already_recorded", kind=fact.kind, department=fact.department)
