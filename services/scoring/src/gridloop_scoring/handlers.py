"""How scoring reacts to reports, case and SLA events: each is recorded as a fact (service.py)."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.messaging import Delivery
from gridloop_scoring.facts import ScoredEvent
from gridloop_scoring.service import FactService


@dataclass(frozen=True)
class FactHandlers:
    service: FactService

    async def record(self, event: ScoredEvent, delivery: Delivery) -> None:
        await self.service.record(event, delivery.event_id)
