"""Cases in dispatch's database; each case document embeds its orders, history and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, DuplicateKeyError, IndexSpec
from gridloop_common.outbox import outbox_fields, with_outbox

CASES = "cases"
INDEXES = [
    IndexSpec(CASES, [("orders.order_id", 1)]),
    IndexSpec(CASES, [("status", 1), ("opened_at", -1)]),
]


class CaseRepository:
    def __init__(self, cases: Collection) -> None:
        self.cases = cases

    async def insert_new(
        self, document: dict[str, Any], events: list[Outgoing], now: datetime
    ) -> bool:
        """Store a new case with its events; False if it already exists (a redelivery)."""
        try:
            await self.cases.insert_one({**document, **outbox_fields(events, now)})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return await self.cases.find_one({"_id": case_id}, {"outbox": 0, "applied": 0})

    async def find_by_order(self, order_id: str) -> dict[str, Any] | None:
        return await self.cases.find_one({"orders.order_id": order_id}, {"outbox": 0})

    async def transition_order(
        self,
        case_id: str,
        order_id: str,
        *,
        from_status: str,
        to_status: str,
        message_id: str,
        order_fields: dict[str, Any],
        case_fields: dict[str, Any],
        history: dict[str, Any],
        events: list[Outgoing],
        now: datetime,
    ) -> bool:
        """Move an order only from the expected state, and only once per message."""
        sets = {f"orders.$[o].{key}": value for key, value in order_fields.items()}
        update = with_outbox(
            {
                "$set": {"orders.$[o].status": to_status, **sets, **case_fields},
                "$push": {"history": history, "applied": message_id},
            },
            events,
            now,
        )
        result = await self.cases.update_one(
            {
                "_id": case_id,
                "orders": {"$elemMatch": {"order_id": order_id, "status": from_status}},
                "applied": {"$ne": message_id},
            },
            update,
            array_filters=[{"o.order_id": order_id}],
        )
        return result.modified_count == 1
