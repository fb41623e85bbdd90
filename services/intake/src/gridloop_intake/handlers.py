"""How intake reacts to case events: a report shows what dispatch has done with it."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEvent,
    CaseReopened,
)
from gridloop_common.messaging import Delivery
from gridloop_intake.repository import ReportRepository


@dataclass(frozen=True)
class CaseStatusHandlers:
    reports: ReportRepository

    async def _record(
        self, event: CaseEvent, delivery: Delivery, status: str, **fields: object
    ) -> None:
        if event.report_id:
            await self.reports.record_case_status(
                event.report_id,
                delivery.event_id,
                status,
                {
                    "case_id": event.case_id,
                    "department": event.department,
                    "updated_at": delivery.event.time,
                    **fields,
                },
            )

    async def on_dispatched(self, event: CaseDispatched, delivery: Delivery) -> None:
        await self._record(event, delivery, "dispatched", expected_by=event.complete_by)

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        await self._record(event, delivery, "accepted")

    async def on_completed(self, event: CaseCompleted, delivery: Delivery) -> None:
        await self._record(event, delivery, "completed", status_note=event.result)

    async def on_closed(self, event: CaseClosed, delivery: Delivery) -> None:
        await self._record(event, delivery, "closed")

    async def on_reopened(self, event: CaseReopened, delivery: Delivery) -> None:
        await self._record(event, delivery, "reopened", status_note=event.comment)
