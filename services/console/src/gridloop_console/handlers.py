"""How the console reacts to what it consumes: every event goes to the projection."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.contracts import Message, ReportReceived
from gridloop_common.messaging import Delivery
from gridloop_console.service import Projection


@dataclass(frozen=True)
class ConsoleHandlers:
    projection: Projection

    async def on_report(self, report: ReportReceived, delivery: Delivery) -> None:
        await self.projection.record_report(report, delivery.event_id)

    async def on_case_event(self, event: Message, delivery: Delivery) -> None:
        await self.projection.record_case_event(event, delivery.event_id)
