"""Reports and reporters' contacts in intake's own database; contacts live apart from reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridloop_common.contracts import GeoPoint
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, DuplicateKeyError, IndexSpec
from gridloop_common.outbox import outbox_fields
from gridloop_intake.duplicates import OpenReport
from gridloop_intake.submission import Contact

REPORTS = "reports"
CONTACTS = "contacts"
# A report's status follows its case; a later status never gives way to an earlier one.
STATUS_RANK = {"received": 0, "dispatched": 1, "accepted": 2, "completed": 3, "closed": 4}
# Statuses after which a report no longer attracts duplicates.
FINISHED = ("closed", "resolved")
INDEXES = [
    IndexSpec(REPORTS, [("category_code", 1), ("township_id", 1), ("reported_at", -1)]),
    IndexSpec(REPORTS, [("grid_id", 1), ("reported_at", -1)]),
    IndexSpec(REPORTS, [("case_id", 1)]),
    IndexSpec(REPORTS, [("channel", 1), ("reported_at", -1)]),
]
# What the API never shows: bookkeeping and the outbox.
HIDDEN = {
    "outbox": 0,
    "outbox_pending": 0,
    "outbox_at": 0,
    "outbox_lease": 0,
    "applied_events": 0,
    "status_rank": 0,
    "request_fingerprint": 0,
}


class ReportRepository:
    def __init__(self, reports: Collection, contacts: Collection) -> None:
        self.reports = reports
        self.contacts = contacts

    async def add(self, document: dict[str, Any], events: list[Outgoing], now: datetime) -> bool:
        """Store a new report with its events; False if its id exists (a retried request)."""
        try:
            await self.reports.insert_one({**document, **outbox_fields(events, now)})
        except DuplicateKeyError:
            return False
        return True

    async def remember_contact(self, reporter_id: str, contact: Contact, now: datetime) -> None:
        fields = {k: v for k, v in vars(contact).items() if v}
        await self.contacts.update_one(
            {"_id": reporter_id},
            {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True,
        )

    async def get(self, report_id: str) -> dict[str, Any] | None:
        return await self.reports.find_one({"_id": report_id}, HIDDEN)

    async def find(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        cursor = self.reports.find(query, HIDDEN).sort("reported_at", -1).limit(limit)
        return [document async for document in cursor]

    async def open_reports(
        self, category_code: str, township_id: str | None, since: datetime
    ) -> list[OpenReport]:
        """Open, original reports of a category in a township since a time: duplicate candidates."""
        cursor = self.reports.find(
            {
                "category_code": category_code,
                "township_id": township_id,
                "reported_at": {"$gte": since},
                "status": {"$nin": [*FINISHED, "linked"]},
            },
            {"category_code": 1, "grid_id": 1, "reported_at": 1, "description": 1, "location": 1},
        ).limit(500)
        return [
            OpenReport(
                report_id=doc["_id"],
                category_code=doc["category_code"],
                grid_id=doc["grid_id"],
                reported_at=doc["reported_at"],
                description=doc["description"],
                location=GeoPoint(**doc["location"]) if doc.get("location") else None,
            )
            async for doc in cursor
        ]

    async def record_case_status(
        self, report_id: str, event_id: str, status: str, fields: dict[str, Any]
    ) -> None:
        """Apply a case update once, and only forward: events may arrive out of order."""
        rank = STATUS_RANK[status]
        await self.reports.update_one(
            {
                "_id": report_id,
                "applied_events": {"$ne": event_id},
                "$or": [{"status_rank": {"$lt": rank}}, {"status_rank": {"$exists": False}}],
            },
            {
                "$set": {"status": status, "status_rank": rank, **fields},
                "$push": {"applied_events": event_id},
            },
        )
