"""The periods scoring has figures for, and whether each has been closed (commendations sent)."""

from __future__ import annotations

from datetime import datetime, timedelta

from gridloop_common.mongo import Collection, Document
from gridloop_common.periods import Period, period_end


class PeriodStore:
    def __init__(self, periods: Collection, grace: timedelta) -> None:
        self.periods = periods
        # A period closes this long after it ends, so that late events are counted first.
        self.grace = grace
        self._known: set[str] = set()

    async def seen(self, period: Period) -> None:
        """Record that the period has figures (once per process; the write is idempotent)."""
        if period.key in self._known:
            return
        await self.periods.update_one(
            {"_id": period.key},
            {
                "$setOnInsert": {
                    "granularity": period.granularity,
                    "ends_at": period_end(period),
                    "closes_at": period_end(period) + self.grace,
                    "closed": False,
                }
            },
            upsert=True,
        )
        self._known.add(period.key)

    async def due(self, now: datetime) -> list[Document]:
        cursor = self.periods.find({"closed": False, "closes_at": {"$lte": now}}).sort("closes_at")
        return [doc async for doc in cursor]

    async def get(self, key: str) -> Document | None:
        return await self.periods.find_one({"_id": key})
