"""scoring's use case called directly, over facts kept in memory: an event is one fact, however
often it is delivered, and every delivery leaves its note (the first may have died before it)."""

from __future__ import annotations

from services.scoring.tests.test_facts import CASE, HAPPENED, RECEIVED, area_of

from gridloop_common.clock import ManualClock
from gridloop_common.contracts import CaseAccepted
from gridloop_scoring.facts import Fact
from gridloop_scoring.service import FactService


class MemoryFacts:
    def __init__(self) -> None:
        self.stored: dict[str, Fact] = {}
        self.notes: list[str] = []

    async def add(self, fact: Fact) -> bool:
        if fact.event_id in self.stored:
            return False
        self.stored[fact.event_id] = fact
        return True

    async def note_unmarked(self, fact: Fact) -> None:
        self.notes.append(fact.event_id)


async def test_an_event_delivered_twice_is_one_fact_and_noted_each_time() -> None:
    facts = MemoryFacts()
    service = FactService(facts, ManualClock(RECEIVED), area_of)
    accepted = CaseAccepted(**CASE, accepted_at=HAPPENED, handler="Wang Lei")

    first = await service.record(accepted, "ev-1")
    await service.record(accepted, "ev-1")

    assert list(facts.stored) == ["ev-1"]
    assert facts.notes == ["ev-1", "ev-1"]
    assert (first.kind, first.occurred_at, first.received_at) == ("accepted", HAPPENED, RECEIVED)
    assert first.month == "2026-11"
    assert "handler:city-mgmt:Wang Lei" in first.entities
