"""How intake reacts to case events: a report shows what dispatch has done with it."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.contracts import CaseAccepted, CaseDispatched
from gridloop_common.messaging import Delivery
from gridloop_intake.repository import ReportRepository


@dataclass(frozen=True)
class CaseStatusHandlers:
    reports: ReportRepository

    async def on_dispatched(self, event: CaseDispatched, delivery: Delivery) -> None:
        if event.report_id:
            await self.reports.record_case_status(
                event.report_id,
                delivery.event_id,
                "dispatched",
                {"case_id": event.case_id, "department": event.department},
            )

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        if event.report_id:
            await self.reports.record_case_status(
                event.report_id, delivery.event_id, "accepted", {"case_id": event.case_id}
            )
