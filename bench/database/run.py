"""What intake's writes and duplicate lookups cost the database, apart from any service.

    uv run python bench/database/run.py [--documents 4000] [--history 20000 60000]
        [--notices 2000 8000]

Starts the MongoDB-wire stand-in (unless MONGODB_URL is set). Two measurements, each printed
with wall time per document and the stand-in's CPU time per document:
- storing reports (commands of eight) and clearing their outbox with the relay's own write, in
  commands of 1, 8 and 64 documents, once with only `_id` and once with intake's indexes;
- looking up eight reports' duplicate candidates in one query, over a growing history: `$in` of
  category@township keys beside a date range on a (key, reported_at) index, against `$in` of
  exact category@township@day keys (what intake does);
- notify claiming a notice's expansion by id, over a growing notices collection: the filter
  with a top-level `$or` it used until 3616436 against "not leased until now or later" (what
  notify does now);
- one `$in` of 100 to 2,000 ids on a collection of 20,000, in one command or in commands of
  `IN_LIST_LIMIT` (what every repository does: the stand-in's `$in` costs its list's square).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import WriteConcern

from gridloop_common.clock import SystemClock
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import IN_LIST_LIMIT, Collection, IndexSpec, create_client, in_chunks
from gridloop_common.outbox import OutboxRelay, outbox_fields, outbox_indexes
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_intake.repository import INDEXES, REPORTS
from gridloop_intake.repository.candidates import DUPLICATE_KEY, duplicate_key
from gridloop_notify.repository import EXPANDING, NOTICES, NoticeRepository
from gridloop_notify.repository import INDEXES as NOTIFY_INDEXES

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CATEGORIES = 91
TOWNSHIPS = 19


def report(number: int, reported_at: datetime) -> dict[str, Any]:
    """A report of intake's shape and size, with its one pending event."""
    category, township = f"c{number % CATEGORIES}", f"t{number % TOWNSHIPS}"
    event = Outgoing(
        message_id=f"event-{number:012d}",
        exchange="gridloop.events",
        routing_key="report.received.native",
        body=b"x" * 900,  # a report.received CloudEvent is about this long
    )
    return {
        "_id": f"R-{number:016d}",
        "channel": "native",
        "grid_id": f"{township}-g1",
        "village_id": f"{township}-v1",
        "township_id": township,
        "location_precision": "point",
        "category_code": category,
        DUPLICATE_KEY: duplicate_key(category, township, reported_at),
        "description": "道路破损 路面坑洼一片 影响居民出行",
        "location": {"lat": 30.63, "lon": 118.98},
        "photo_urls": [],
        "reported_at": reported_at,
        "reporter_id": "P-" + "0" * 32,
        "attributes": {},
        "request_fingerprint": "f" * 64,
        "status": "received",
        "status_rank": 0,
        **outbox_fields([event], reported_at),
    }


class Meter:
    """Wall time and the database's CPU time of what runs inside, per unit."""

    def __init__(self, db_pid: int | None) -> None:
        self._db_pid = db_pid

    async def per(self, units: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
        cpu, wall = cpu_seconds(self._db_pid), time.perf_counter()
        await work()
        wall_ms = (time.perf_counter() - wall) * 1000 / units
        return wall_ms, (cpu_seconds(self._db_pid) - cpu) * 1000 / units


async def create(collection: Collection, indexes: list[IndexSpec]) -> None:
    for spec in indexes:
        await collection.create_index(list(spec.keys), name=spec.name, **dict(spec.options))


async def writes(collection: Collection, documents: int, meter: Meter) -> list[str]:
    """Insert in eights, then clear the outboxes with the relay's write in 1s, 8s and 64s."""
    stored = [report(n, NOW) for n in range(documents)]
    relay = OutboxRelay([collection], SystemClock())

    async def insert() -> None:
        for start in range(0, documents, 8):
            await collection.insert_many(stored[start : start + 8])

    cells = ["{:.2f} / {:.2f}".format(*await meter.per(documents, insert))]
    third = documents // 3
    thirds = ((1, stored[:third]), (8, stored[third : 2 * third]), (64, stored[2 * third :]))
    for size, chosen in thirds:

        async def clear(chosen: list[dict[str, Any]] = chosen, size: int = size) -> None:
            for start in range(0, len(chosen), size):
                batch = chosen[start : start + size]
                await relay._mark_sent(
                    collection, [(doc["_id"], [doc["outbox"][0]["id"]]) for doc in batch]
                )

        cells.append("{:.2f} / {:.2f}".format(*await meter.per(len(chosen), clear)))
    pending = await collection.find_one({"outbox_pending": True}, {"_id": 1})
    if pending is not None:
        raise RuntimeError(f"the relay's write left {pending['_id']} pending")
    return cells


async def lookups(collection: Collection, history: int, meter: Meter) -> list[str]:
    """Eight reports' candidates in one query, two ways, over `history` stored reports (a
    thousandth of them per hour over the days before NOW, the rest inside the last day)."""
    recent = history // 10
    documents = []
    for number in range(history):
        age = timedelta(minutes=number % 1440) if number < recent else timedelta(hours=number)
        document = report(number, NOW - age)
        # The key a (key, reported_at) index would use: category and township, no day.
        document["range_key"] = f"{document['category_code']}@{document['township_id']}"
        documents.append(document)
    for start in range(0, history, 1000):
        await collection.insert_many(documents[start : start + 1000])
    wanted = [(f"c{n}", f"t{n % TOWNSHIPS}") for n in range(8)]
    since = NOW - timedelta(hours=24)
    day_keys = [
        duplicate_key(category, township, day)
        for category, township in wanted
        for day in (NOW - timedelta(days=1), NOW, NOW + timedelta(days=1))
    ]
    queries: dict[str, dict[str, Any]] = {
        "$in + range": {
            "range_key": {"$in": [f"{c}@{t}" for c, t in wanted]},
            "reported_at": {"$gte": since},
        },
        "day keys": {DUPLICATE_KEY: {"$in": day_keys}},
    }
    cells = []
    for selector in queries.values():
        found: list[Any] = []

        async def query(selector: dict[str, Any] = selector, found: list[Any] = found) -> None:
            for _ in range(10):
                found[:] = [doc async for doc in collection.find(selector, {"_id": 1})]

        wall, cpu = await meter.per(10, query)
        cells.append(f"{wall:.1f} / {cpu:.1f} ms ({len(found)} found)")
    return cells


CLAIMS = 50


async def expansion_claims(collection: Collection, notices: int, meter: Meter) -> list[str]:
    """Claim CLAIMS notices by id, alternately with the old `$or` filter and the one in use."""
    await collection.insert_many(
        [
            {
                "_id": f"N-{n}",
                "status": EXPANDING if n % 50 == 0 else "done",
                "kind": "broadcast",
                "text": "明天上午停水 请提前储水 " * 20,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for n in range(notices)
        ]
    )
    repository = NoticeRepository(collection)
    ids = [f"N-{n}" for n in range(0, notices, 50)][: CLAIMS * 2]
    until = NOW + timedelta(minutes=1)

    async def with_or(chosen: list[str] = ids[0::2]) -> None:
        for notice_id in chosen:
            await collection.update_one(
                {
                    "_id": notice_id,
                    "status": EXPANDING,
                    "$or": [{"expand_until": {"$exists": False}}, {"expand_until": {"$lt": NOW}}],
                },
                {"$set": {"expand_owner": "bench", "expand_until": until}},
            )

    async def as_now(chosen: list[str] = ids[1::2]) -> None:
        for notice_id in chosen:
            assert await repository.claim_expansion(notice_id, "bench", NOW, until)

    cells = []
    for work in (with_or, as_now):
        cells.append("{:.2f} / {:.2f}".format(*await meter.per(len(ids) // 2, work)))
    return cells


IN_LIST_DOCUMENTS = 20_000


async def in_lists(collection: Collection, meter: Meter) -> None:
    """Find, update and delete by `_id` lists of growing length, whole and chunked."""
    await collection.insert_many(
        [{"_id": f"id-{n:06d}", "pad": "x" * 200} for n in range(IN_LIST_DOCUMENTS)]
    )
    print(f"  {'ids':<14}" + "".join(f"{h:>18}" for h in ("find", "update_many", "delete_many")))
    offset = 0
    for size in (100, 1_000, 2_000):
        for chunk_size in (size, IN_LIST_LIMIT) if size > IN_LIST_LIMIT else (size,):
            ids = [f"id-{n:06d}" for n in range(offset, offset + size)]
            offset += size
            chunks = list(in_chunks(ids, chunk_size))

            async def find(chunks: list[list[str]] = chunks) -> None:
                for chunk in chunks:
                    _ = [d async for d in collection.find({"_id": {"$in": chunk}})]

            async def update(chunks: list[list[str]] = chunks) -> None:
                for chunk in chunks:
                    await collection.update_many({"_id": {"$in": chunk}}, {"$set": {"u": 1}})

            async def delete(chunks: list[list[str]] = chunks) -> None:
                for chunk in chunks:
                    await collection.delete_many({"_id": {"$in": chunk}})

            cells = [
                "{:.0f} / {:.0f} ms".format(*await meter.per(1, work))
                for work in (find, update, delete)
            ]
            label = f"{size}" if chunk_size == size else f"{size} in {chunk_size}s"
            print(f"  {label:<14}" + "".join(f"{cell:>18}" for cell in cells))


async def measure(mongodb_url: str, db_pid: int | None, args: argparse.Namespace) -> None:
    client = create_client(mongodb_url)
    database = client["bench_database"]
    meter = Meter(db_pid)
    print("writes, per document: wall ms / database CPU ms")
    print(f"  {'indexes':<22}{'insert (8s)':>16}{'clear 1s':>16}{'clear 8s':>16}{'clear 64s':>16}")
    variants: dict[str, list[IndexSpec]] = {
        "_id only": [],
        "intake's (4 in all)": [*INDEXES, *outbox_indexes(REPORTS)],
    }
    for number, (label, indexes) in enumerate(variants.items()):
        collection = database[f"writes_{number}"]
        await create(collection, indexes)
        cells = await writes(collection, args.documents, meter)
        print(f"  {label:<22}" + "".join(f"{cell:>16}" for cell in cells))
    print()
    print("8 reports' duplicate candidates in one query: wall / database CPU per query")
    print(f"  {'stored reports':<16}{'$in + date range':>34}{'exact day keys':>34}")
    for number, history in enumerate(args.history):
        collection = database[f"lookups_{number}"]
        await collection.create_index([("range_key", 1), ("reported_at", -1)])
        await collection.create_index([(DUPLICATE_KEY, 1)])
        cells = await lookups(collection, history, meter)
        print(f"  {history:<16}" + "".join(f"{cell:>34}" for cell in cells))
    print()
    print("notify claims one notice's expansion by id: wall / database CPU ms per claim")
    print(f"  {'stored notices':<16}{'with $or (before)':>28}{'not leased until now':>28}")
    for number, notices in enumerate(args.notices):
        collection = database[f"{NOTICES}_{number}"]
        await create(collection, [spec for spec in NOTIFY_INDEXES if spec.collection == NOTICES])
        cells = await expansion_claims(collection, notices, meter)
        print(f"  {notices:<16}" + "".join(f"{cell:>28}" for cell in cells))
    print()
    print("waiting for the journal (every service's client: journal=True), single inserts")
    print(f"  {'write concern':<22}{'wall ms / db CPU ms':>24}")
    concerns = (("w:1", WriteConcern(w=1, j=False)), ("w:1, j:true", WriteConcern(w=1, j=True)))
    for number, (label, concern) in enumerate(concerns):
        target = database[f"journal_{number}"].with_options(write_concern=concern)
        documents = [report(n, NOW) for n in range(args.documents // 4)]

        async def one_by_one(chosen: list[dict[str, Any]] = documents, into: Any = target) -> None:
            for document in chosen:
                await into.insert_one(document)

        cell = "{:.2f} / {:.2f}".format(*await meter.per(len(documents), one_by_one))
        print(f"  {label:<22}{cell:>24}")
    print()
    print(f"one `$in` by _id over {IN_LIST_DOCUMENTS:,} documents: wall / database CPU ms")
    await in_lists(database["in_lists"], meter)
    await client.drop_database("bench_database")
    await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=3000, help="reports per write variant")
    parser.add_argument("--history", type=int, nargs="+", default=[20_000, 60_000])
    parser.add_argument("--notices", type=int, nargs="+", default=[2_000, 8_000])
    args = parser.parse_args()
    with bench_infrastructure() as infra:
        print("setup")
        print(f"  cores     {os.cpu_count()} (load average {os.getloadavg()[0]:.2f})")
        print(f"  python    {platform.python_version()}; database {infra.database}")
        print()
        asyncio.run(measure(infra.mongodb_url, infra.db_pid, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
