"""Reports in intake's own database, each written together with its outbox events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, IndexSpec
from gridloop_common.outbox import outbox_fields, with_outbox

REPORTS = "reports"
INDEXES = [IndexSpec(REPORTS, [("grid_id", 1), ("reported_at", -1)])]


class ReportRepository:
    def __init__(self, reports: Collection) -> None:
        self.reports = reports

    async def add(self, document: dict[str, Any], events: list[Outgoing], now: datetime) -> None:
        await self.reports.insert_one({**document, **outbox_fields(events, now)})

    async def get(self, report_id: str) -> dict[str, Any] | None:
        return await self.reports.find_one({"_id": report_id}, {"outbox": 0})

    async def record_case_status(
        self, report_id: str, event_id: str, status: str, fields: dict[str, Any]
    ) -> None:
        """Apply a case update once: the event id is remembered on the report."""
        await self.reports.update_one(
            {"_id": report_id, "applied_events": {"$ne": event_id}},
            {"$set": {"status": status, **fields}, "$push": {"applied_events": event_id}},
        )


__all__ = ["INDEXES", "REPORTS", "ReportRepository", "with_outbox"]
