"""scoring's use case for what it consumes: an event becomes one stored fact, at most once, and
a note that its figures are to be marked for recomputation (see recompute.py). Recomputing and
closing periods are background work (recompute.py, closing.py); the API only reads figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from gridloop_common.clock import Clock
from gridloop_scoring.facts import AreaOf, Fact, ScoredEvent, fact_from_event

log = structlog.stdlib.get_logger("gridloop.scoring")


class FactSink(Protocol):
    """Where facts are kept (the repository's FactStore; a list in the use case's tests)."""

    async def add(self, fact: Fact) -> bool: ...

    async def note_unmarked(self, fact: Fact) -> None: ...


@dataclass(frozen=True)
class FactService:
    facts: FactSink
    clock: Clock
    area_of: AreaOf

    async def record(self, event: ScoredEvent, event_id: str) -> Fact:
        """Store the event's fact (once per event id) and note it for marking."""
        fact = fact_from_event(event, event_id, self.clock.now(), self.area_of)
        stored = await self.facts.add(fact)
        # Noted even for a repeat: the first delivery may have stored the fact and then died
        # before noting it. A needless note costs one recompute, never a wrong figure.
        await self.facts.note_unmarked(fact)
        if stored:
            log.info("fact_recorded", kind=fact.kind, department=fact.department)
        else:
            # At-least-once delivery: the repeat is acked, the fact was counted the first time.
            log.info("fact_already_recorded", kind=fact.kind, department=fact.department)
        return fact
