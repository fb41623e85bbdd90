"""Which redelivered messages were being handled when their consumer process died.

A message that kills its consumer (a parser that segfaults, an allocation that gets the process
OOM-killed, an endless loop cut by the orchestrator) comes back after every restart. The broker
cannot be relied on to stop it: RabbitMQ 3.x counts every return against `x-delivery-limit`,
so messages that merely sat in the dead consumer's prefetch buffer are charged too, and 4.3+
no longer counts returns from a lost connection at all. So the consumer keeps its own account,
in the service's database (replicas share it): a redelivered message is handled alone, with a
line written before and removed after. Lines that stay are crashes during that message.
"""

from __future__ import annotations

from datetime import timedelta

from pymongo import ReturnDocument

from gridloop_common.clock import Clock
from gridloop_common.mongo import Collection, IndexSpec

COLLECTION = "consumer_crashes"
# A line nobody removed (its message was purged, or handled by a replica of an older version)
# is forgotten after a day.
FORGET_AFTER = timedelta(days=1)


def crash_journal_indexes() -> list[IndexSpec]:
    return [
        IndexSpec(
            COLLECTION,
            [("forget_at", 1)],
            options={"expireAfterSeconds": 0},
        )
    ]


class MongoCrashJournal:
    def __init__(self, collection: Collection, clock: Clock) -> None:
        self._collection = collection
        self._clock = clock

    async def begin(self, key: str) -> int:
        """Note that handling starts; how many earlier handlings of this message never ended."""
        now = self._clock.now()
        before = await self._collection.find_one_and_update(
            {"_id": key},
            {
                "$inc": {"unfinished": 1},
                "$set": {"last_at": now, "forget_at": now + FORGET_AFTER},
                "$setOnInsert": {"first_at": now},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        return 0 if before is None else int(before.get("unfinished", 0))

    async def end(self, key: str) -> None:
        """Handling ended (acked, retried or parked): the message killed nobody this time."""
        await self._collection.delete_one({"_id": key})
