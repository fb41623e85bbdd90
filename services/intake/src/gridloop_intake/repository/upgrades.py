"""Bringing reports stored by an earlier intake up to what this one reads; once per database.

Each step is idempotent (two replicas starting together may both run it) and is recorded in the
`upgrades` collection when done, so later starts skip it. They run in the background after
start-up: a report accepted meanwhile is already in the new shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from pymongo.errors import OperationFailure

from gridloop_common.clock import Clock
from gridloop_common.mongo import Database
from gridloop_intake.duplicates import LONGEST_WINDOW
from gridloop_intake.repository.candidates import DUPLICATE_KEY, duplicate_key
from gridloop_intake.repository.reports import CHANNELS, REPORTS

log = structlog.stdlib.get_logger("gridloop.intake.upgrades")

UPGRADES = "upgrades"
# Indexes an earlier intake made and none of today's queries use: each cost a write per report.
RETIRED_INDEXES = ("category_code_1_township_id_1_reported_at_-1", "linked_to_1")
INDEX_NOT_FOUND = 27


class StoredReportUpgrades:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._reports = database[REPORTS]
        self._done = database[UPGRADES]
        self._clock = clock
        self._steps: dict[str, Callable[[], Awaitable[int]]] = {
            "2026-11 duplicate keys": self.add_duplicate_keys,
            "2026-11 supporters": self.list_supporters,
            "2026-11 retired indexes": self.drop_retired_indexes,
        }

    async def run(self) -> None:
        """Every step not yet done, in order (a background loop: a crash is retried)."""
        for name, step in self._steps.items():
            if await self._done.find_one({"_id": name}) is not None:
                continue
            changed = await step()
            await self._done.update_one(
                {"_id": name}, {"$setOnInsert": {"done_at": self._clock.now()}}, upsert=True
            )
            log.info("stored_reports_upgraded", step=name, changed=changed)

    async def add_duplicate_keys(self) -> int:
        """Reports still inside a duplicate window get the key their duplicates are found by
        (older ones can no longer attract a duplicate)."""
        since = self._clock.now() - LONGEST_WINDOW - timedelta(days=1)
        cursor = self._reports.find(
            # Through the (channel, reported_at) index: only the recent reports are read.
            {"channel": {"$in": list(CHANNELS)}, "reported_at": {"$gte": since}},
            {"category_code": 1, "township_id": 1, "reported_at": 1, DUPLICATE_KEY: 1},
        )
        changed = 0
        async for report in cursor:
            if DUPLICATE_KEY in report or "category_code" not in report:
                continue
            key = duplicate_key(
                report["category_code"], report.get("township_id"), report["reported_at"]
            )
            await self._reports.update_one({"_id": report["_id"]}, {"$set": {DUPLICATE_KEY: key}})
            changed += 1
        return changed

    async def list_supporters(self) -> int:
        """Supporting reports stored before originals listed them: listed now, so they follow
        their original's case (read once: a scan of every report)."""
        changed = 0
        cursor = self._reports.find({"linked_to": {"$exists": True}}, {"linked_to": 1})
        async for report in cursor:
            result = await self._reports.update_one(
                {"_id": report["linked_to"]}, {"$addToSet": {"supporters": report["_id"]}}
            )
            changed += result.modified_count
        return changed

    async def drop_retired_indexes(self) -> int:
        existing = await self._reports.index_information()
        dropped = 0
        for name in RETIRED_INDEXES:
            if name not in existing:
                continue
            try:
                await self._reports.drop_index(name)
                dropped += 1
            except OperationFailure as error:
                if error.code != INDEX_NOT_FOUND:  # else another replica dropped it just now
                    raise
        return dropped
