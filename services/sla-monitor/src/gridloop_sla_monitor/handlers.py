"""How sla-monitor reacts to messages: each case event is one use case of service.py."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    DispatchWatermark,
)
from gridloop_common.messaging import Delivery
from gridloop_sla_monitor.service import Cause, ClockService


@dataclass(frozen=True)
class ClockHandlers:
    service: ClockService

    async def on_dispatch_watermark(self, event: DispatchWatermark, delivery: Delivery) -> None:
        await self.service.raise_watermark(event, _cause(delivery))

    async def on_dispatched(self, event: CaseDispatched, delivery: Delivery) -> None:
        await self.service.start_clocks(event, _cause(delivery))

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        await self.service.settle_acceptance(event, _cause(delivery))

    async def on_completed(self, event: CaseCompleted, delivery: Delivery) -> None:
        await self.service.settle_completion(event, _cause(delivery))

    async def on_rejected(self, event: CaseRejected, delivery: Delivery) -> None:
        await self.service.stop_by_rejection(event, _cause(delivery))

    async def on_extended(self, event: CaseExtended, delivery: Delivery) -> None:
        await self.service.move_deadline(event, _cause(delivery))

    async def on_closed(self, event: CaseClosed, delivery: Delivery) -> None:
        await self.service.close_case(event, _cause(delivery))


def _cause(delivery: Delivery) -> Cause:
    return Cause(delivery.event_id, delivery.event.correlationid, delivery.last_attempt)
