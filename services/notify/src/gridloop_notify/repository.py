"""Deliveries in notify's own database: one document per notice, keyed by the notice id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from gridloop_common.mongo import Collection, Document, DuplicateKeyError, IndexSpec
from gridloop_notify.notices import Notice

DELIVERIES = "deliveries"
INDEXES = [IndexSpec(DELIVERIES, [("case_id", 1), ("created_at", 1)])]

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SKIPPED = "skipped"
# Nothing more to do for a notice in these states, whoever sees the event again.
SETTLED = frozenset({DELIVERED, SKIPPED})


class DeliveryRepository:
    def __init__(self, deliveries: Collection) -> None:
        self.deliveries = deliveries

    async def open(self, notice: Notice, channel: str, now: datetime) -> Document:
        """The notice's delivery, created as pending the first time its event is seen."""
        selector = {"_id": notice.notice_id}
        update = {
            "$setOnInsert": {
                "kind": notice.kind,
                "event_id": notice.event_id,
                "case_id": notice.case_id,
                "recipient_id": notice.recipient_id,
                "channel": channel,
                "notice": dict(notice.body),
                "status": PENDING,
                "attempts": 0,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
        }
        try:
            document = await self.deliveries.find_one_and_update(
                selector, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # Two replicas upserted the same notice at once; the other insert won, read it.
            document = await self.deliveries.find_one(selector)
        if document is None:
            raise RuntimeError(f"delivery {notice.notice_id} vanished after upsert")
        return document

    async def claim(self, notice_id: str, now: datetime, until: datetime) -> bool:
        """Take the right to send, so two copies of one event never both reach the receiver."""
        claimed = await self.deliveries.find_one_and_update(
            {
                "_id": notice_id,
                "status": {"$nin": sorted(SETTLED)},
                "$or": [{"lease_until": {"$exists": False}}, {"lease_until": {"$lt": now}}],
            },
            {"$set": {"lease_until": until}},
            projection={"_id": 1},
        )
        return claimed is not None

    async def settle(self, notice_id: str, status: str, now: datetime) -> None:
        """Close a delivery as delivered (one more attempt counted) or skipped (none made)."""
        update: dict[str, Any] = {"$set": {"status": status}, "$unset": {"lease_until": ""}}
        if status == DELIVERED:
            update["$set"].update({"delivered_at": now, "last_attempt_at": now})
            update["$inc"] = {"attempts": 1}
        await self.deliveries.update_one({"_id": notice_id}, update)

    async def record_failure(
        self, notice_id: str, reason: str, now: datetime, *, final: bool
    ) -> None:
        # Guarded: a replica whose lease ran out must not undo another's success.
        await self.deliveries.update_one(
            {"_id": notice_id, "status": {"$nin": sorted(SETTLED)}},
            {
                "$set": {
                    "status": FAILED if final else PENDING,
                    "last_error": reason,
                    "last_attempt_at": now,
                },
                "$inc": {"attempts": 1},
                "$unset": {"lease_until": ""},
            },
        )

    async def get(self, notice_id: str) -> Document | None:
        return await self.deliveries.find_one({"_id": notice_id}, {"lease_until": 0})

    async def for_case(self, case_id: str, limit: int = 200) -> list[Document]:
        cursor = (
            self.deliveries.find({"case_id": case_id}, {"lease_until": 0})
            .sort("created_at", 1)
            .limit(limit)
        )
        return [document async for document in cursor]
