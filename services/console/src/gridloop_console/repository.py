"""The console's read model in its own database: cases (timeline + summary), reports, the feed.

Nothing here decides anything: the fold (case_view) says what a case is, these classes store
and find it. Every write is conditional or keyed by an event id, so a redelivered event is a
no-op and two replicas projecting events of one case at once cannot overwrite each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne

from gridloop_common.batched_inserts import BatchedInserts, BatchedWrites
from gridloop_common.clock import Clock, SystemClock
from gridloop_common.coalescing import Coalescer
from gridloop_common.mongo import Collection, Document, IndexSpec
from gridloop_console.board import BoardMirror
from gridloop_console.timeline import Entry

CASES = "cases"
REPORTS = "reports"
FEED = "feed"
# One small document per case with its open orders' clocks: what the board, the overview and
# the map read (a case's timeline stays out of those reads).
BOARD = "board"
# Pages drawn within this many seconds of each other share one read of the board.
BOARD_READ_SECONDS = 0.5
# A board read asks for changes stamped this long before the last read began...
CHANGE_OVERLAP = timedelta(seconds=5)
# ...and reads every open case again this often (OpenOrderBoard).
FULL_READ_SECONDS = 60.0
# The notices sent from the console, newest first on the notices page (notify holds their state).
NOTICES = "notices"
# The feed is the live view and the last hour's breaches; older items are in the timelines.
FEED_KEEP_SECONDS = 7 * 24 * 3600

INDEXES = [
    IndexSpec(CASES, [("report_id", 1)]),
    # The overview's counts of a day or month.
    IndexSpec(CASES, [("dispatched_at", 1)]),
    IndexSpec(CASES, [("closed_at", 1)]),
    IndexSpec(REPORTS, [("reported_at", 1)]),
    IndexSpec(FEED, [("at", 1)]),
    IndexSpec(FEED, [("kind", 1), ("at", 1)]),
    # What other replicas projected since a moment (live updates); also the feed's expiry.
    IndexSpec(FEED, [("projected_at", 1)], options={"expireAfterSeconds": FEED_KEEP_SECONDS}),
    IndexSpec(NOTICES, [("sent_at", 1)]),
    IndexSpec(BOARD, [("open", 1)]),
    IndexSpec(BOARD, [("changed_at", 1)]),
]

# Fields every case event says about its case (CaseFacts); SLA events carry some of them.
FACT_FIELDS = ("category_code", "grid_id", "township_id", "village_id", "report_id")


@dataclass(frozen=True)
class CaseCounts:
    """Cases of a period: dispatched in it (and of those, accepted and completed in time),
    closed in it (and of those, satisfied)."""

    dispatched: int
    accepted_in_time: int
    completed_in_time: int
    closed: int
    satisfied: int


@dataclass(frozen=True)
class Projected:
    """A feed item another replica projected: what its browsers were told."""

    kind: str
    case_id: str | None
    projected_at: datetime


@dataclass(frozen=True)
class StoredCase:
    case_id: str
    facts: dict[str, Any]
    entries: list[Entry]
    version: int


def _stored(case_id: str, document: Document | None) -> StoredCase | None:
    if document is None:
        return None
    return StoredCase(
        case_id=case_id,
        facts={name: document.get(name) for name in FACT_FIELDS},
        entries=[Entry.from_document(e) for e in document.get("entries", [])],
        version=document["version"],
    )


class CaseRepository:
    """Cases are read and written by many handlers at once (the inbox's prefetch): the reads
    of a burst go out as one find, its writes as one insert and one bulk write."""

    def __init__(self, collection: Collection) -> None:
        self._cases = collection
        self._loads: Coalescer[str, StoredCase | None] = Coalescer(self._load_many)
        self._inserts = BatchedInserts(collection)
        self._writes = BatchedWrites(collection)

    async def load(self, case_id: str) -> StoredCase | None:
        return await self._loads.submit(case_id)

    async def _load_many(self, case_ids: list[str]) -> list[StoredCase | None]:
        cursor = self._cases.find(
            {"_id": {"$in": list(set(case_ids))}},
            {"entries": 1, "version": 1, **dict.fromkeys(FACT_FIELDS, 1)},
        )
        found = {document["_id"]: document async for document in cursor}
        return [_stored(case_id, found.get(case_id)) for case_id in case_ids]

    async def save(
        self,
        case_id: str,
        facts: dict[str, Any],
        entries: Sequence[Entry],
        summary: dict[str, Any],
        *,
        version: int | None,
        now: datetime,
    ) -> bool:
        """Store the case as of `version` (None: a new case); False when another write came
        first, and the caller folds again from what is stored now."""
        document = {
            **facts,
            **summary,
            "entries": [e.to_document() for e in entries],
            "updated_at": now,
        }
        if version is None:
            return await self._inserts.insert({"_id": case_id, **document, "version": 1})
        # Another version stored: the upsert collides with it (see BatchedWrites).
        return await self._writes.write(
            ReplaceOne(
                {"_id": case_id, "version": version},
                {**document, "version": version + 1},
                upsert=True,
            )
        )

    async def get(self, case_id: str) -> Document | None:
        return await self._cases.find_one({"_id": case_id})

    async def case_of_report(self, report_id: str) -> str | None:
        document = await self._cases.find_one({"report_id": report_id}, {"_id": 1})
        return None if document is None else str(document["_id"])

    async def counts_between(self, start: datetime, end: datetime) -> CaseCounts:
        dispatched: Document = {"dispatched_at": {"$gte": start, "$lt": end}}
        closed: Document = {"closed_at": {"$gte": start, "$lt": end}}
        count = self._cases.count_documents
        return CaseCounts(
            dispatched=await count(dispatched),
            accepted_in_time=await count({**dispatched, "accepted_in_time": True}),
            completed_in_time=await count({**dispatched, "completed_in_time": True}),
            closed=await count(closed),
            satisfied=await count({**closed, "satisfied": True}),
        )


class ReportRepository:
    def __init__(self, collection: Collection) -> None:
        self._reports = collection
        self._inserts = BatchedInserts(collection)

    async def record(self, report_id: str, fields: Document) -> None:
        await self._inserts.insert({"_id": report_id, **fields})  # False: a redelivery

    async def get(self, report_id: str) -> Document | None:
        return await self._reports.find_one({"_id": report_id})

    async def count_between(self, start: datetime, end: datetime) -> int:
        return await self._reports.count_documents({"reported_at": {"$gte": start, "$lt": end}})

    async def times_since(self, start: datetime) -> list[datetime]:
        cursor = self._reports.find({"reported_at": {"$gte": start}}, {"reported_at": 1, "_id": 0})
        return [document["reported_at"] async for document in cursor]


class FeedRepository:
    def __init__(self, collection: Collection) -> None:
        self._feed = collection
        self._inserts = BatchedInserts(collection)

    async def add(self, event_id: str, item: Document) -> None:
        await self._inserts.insert({"_id": event_id, **item})  # False: a redelivery

    async def latest(self, limit: int) -> list[Document]:
        return await self._feed.find().sort("at", DESCENDING).limit(limit).to_list(None)

    async def count_since(self, kind: str, start: datetime) -> int:
        return await self._feed.count_documents({"kind": kind, "at": {"$gte": start}})

    async def projected_elsewhere(
        self, after: datetime, replica: str, limit: int = 500
    ) -> list[Projected]:
        """Items other replicas projected after `after` (oldest first): what this replica's
        browsers must hear about too."""
        cursor = (
            self._feed.find(
                {"projected_at": {"$gt": after}, "replica": {"$ne": replica}},
                {"case_id": 1, "kind": 1, "projected_at": 1},
            )
            .sort("projected_at", ASCENDING)
            .limit(limit)
        )
        return [
            Projected(item.get("kind", ""), item.get("case_id"), item["projected_at"])
            async for item in cursor
        ]


class NoticeLog:
    """Which notices were sent from the console, when, to whom: the notices page's list."""

    def __init__(self, collection: Collection) -> None:
        self._notices = collection

    async def record(self, notice_id: str, fields: Document) -> None:
        await self._notices.update_one({"_id": notice_id}, {"$setOnInsert": fields}, upsert=True)

    async def latest(self, limit: int) -> list[Document]:
        return await self._notices.find().sort("sent_at", DESCENDING).limit(limit).to_list(None)


class OpenOrderBoard:
    """Each case's board fields as of its latest fold, versioned like the case.

    A write carries the case's version and lands only over an older one, so two replicas
    folding one case in turn cannot leave the older state on the board; a closed case stays
    as a tombstone (`open: false`) for the same reason.

    Reading: each replica mirrors the open cases in memory. Pages within BOARD_READ_SECONDS
    share one read, and a read after the first asks only for what changed since the last one
    (by `changed_at`, CHANGE_OVERLAP early for writes stamped before and stored after it, and
    another replica's clock); every FULL_READ_SECONDS it reads everything again, which bounds
    how long anything missed can stay wrong. Decoding 5,000 open cases was most of the board
    page's time (bench/console).
    """

    def __init__(
        self,
        collection: Collection,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._board = collection
        self._writes = BatchedWrites(collection)
        self._clock = clock or SystemClock()
        self._monotonic = monotonic
        self._mirror = BoardMirror()
        self._reading = asyncio.Lock()
        self._read_at: float | None = None  # monotonic, of the last read
        self._full_at = 0.0  # monotonic, of the last full read
        self._synced: datetime | None = None  # wall clock: changes before this are mirrored

    async def show(self, case_id: str, version: int, fields: Document) -> None:
        # Refused by the key (False): the board already shows a newer state of the case.
        await self._writes.write(
            UpdateOne(
                {"_id": case_id, "version": {"$lt": version}},
                {"$set": {**fields, "version": version, "changed_at": self._clock.now()}},
                upsert=True,
            )
        )

    async def open_cases(self) -> list[Document]:
        async with self._reading:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= BOARD_READ_SECONDS:
                await self._read(now)
            return self._mirror.cases()

    async def _read(self, now: float) -> None:
        started = self._clock.now()
        if self._synced is None or now - self._full_at >= FULL_READ_SECONDS:
            documents = await self._board.find({"open": True}).to_list(None)
            self._mirror = BoardMirror()
            self._full_at = now
        else:
            changed = {"changed_at": {"$gte": self._synced - CHANGE_OVERLAP}}
            documents = await self._board.find(changed).to_list(None)
        self._mirror.apply(documents)
        self._synced = started
        self._read_at = now
