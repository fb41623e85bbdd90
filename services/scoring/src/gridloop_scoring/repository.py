"""scoring's database: facts (one per consumed event), the recompute queue, figures, periods.

- `facts`: `_id` = CloudEvent id; a redelivery hits the unique `_id`.
- `unmarked`: one small document per stored fact whose marks are not written yet (see
  recompute.py); the recompute loop turns many of them into marks at once, then deletes them.
- `dirty`: one document per entity whose figures must be recomputed, with the months that
  changed; `version` counts the marks, so a recompute that raced a new fact leaves the mark
  behind (see recompute.py).
- `figures`: one document per (entity, period) — counts, (numerator, denominator) pairs, medians.
- `samples`: a month's sorted dispatch→accept/complete seconds, apart from `figures` so that a
  ranking never decodes them; quarters and years merge them into their medians.
- `periods`: one per period with figures; closing it writes `scoring.period_closed` into its
  embedded outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pymongo import DeleteOne, ReplaceOne, UpdateOne

from gridloop_common.batched_inserts import BatchedInserts
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, Document, IndexSpec, fields_with_values, in_chunks
from gridloop_common.outbox import RelayNow, with_outbox
from gridloop_common.periods import Period, months_of, period_end, period_keys
from gridloop_scoring.facts import Fact, FactSummary
from gridloop_scoring.figures import Figures, figures_document, samples_document
from gridloop_scoring.levels import split_entity_key

FACTS = "facts"
UNMARKED = "unmarked"
DIRTY = "dirty"
FIGURES = "figures"
SAMPLES = "samples"
PERIODS = "periods"

INDEXES = [
    # An entity's facts of one month, or from one month on (a handler's orders): a multikey
    # index, one entry per entity the fact counts for.
    IndexSpec(FACTS, [("entities", 1), ("month", 1)]),
    # One order's facts, folded into its record.
    IndexSpec(FACTS, [("order_id", 1)]),
    # A closing month's closed cases (excellent cases).
    IndexSpec(FACTS, [("kind", 1), ("month", 1)]),
    # Due marks; marks of a closing period's months.
    IndexSpec(DIRTY, [("lease_until", 1)]),
    IndexSpec(DIRTY, [("months", 1)]),
    IndexSpec(FIGURES, [("level", 1), ("period", 1)]),
    IndexSpec(PERIODS, [("closed", 1), ("closes_at", 1)]),
]
# When a mark of an entity is due (recompute.py's policy: a burst gathers before its recompute).
DueAt = Callable[[str], datetime]


def figure_id(entity: str, period: str) -> str:
    return f"{entity}|{period}"


# A fact's optional details: stored only where the kind has them.
FACT_DETAILS = (
    "handler", "worker", "clock", "accept_by", "complete_by", "satisfied", "case_complete",
    "report_id",
)  # fmt: skip
# What a read of the rules' facts decodes: the fact, not its stored period keys.
FACT_FIELDS = dict.fromkeys(
    (
        "kind", "case_id", "order_id", "department", "grid_id", "village_id", "township_id",
        "category_code", "occurred_at", "received_at", "entities", *FACT_DETAILS,
    ),
    1,
)  # fmt: skip
SUMMARY_FIELDS = dict.fromkeys(("kind", "month", "entities", "order_id"), 1)


def fact_document(fact: Fact) -> Document:
    document: Document = {
        "_id": fact.event_id,
        "kind": fact.kind,
        "case_id": fact.case_id,
        "order_id": fact.order_id,
        "department": fact.department,
        "grid_id": fact.grid_id,
        "village_id": fact.village_id,
        "township_id": fact.township_id,
        "category_code": fact.category_code,
        "occurred_at": fact.occurred_at,
        "received_at": fact.received_at,
        "entities": list(fact.entities),
        # Stored time buckets: a period is an equality match, and a sharded cluster can key on
        # bucket + entity (docs/architecture.md, "Scaling out").
        **period_keys(fact.occurred_at),
    }
    return document | fields_with_values(fact, FACT_DETAILS)


def fact_of(document: Mapping[str, Any]) -> Fact:
    return Fact(
        event_id=document["_id"],
        kind=document["kind"],
        case_id=document.get("case_id"),
        order_id=document.get("order_id"),
        department=document.get("department"),
        grid_id=document.get("grid_id"),
        village_id=document.get("village_id"),
        township_id=document.get("township_id"),
        category_code=document.get("category_code"),
        occurred_at=document["occurred_at"],
        received_at=document["received_at"],
        entities=tuple(document.get("entities", ())),
        **{name: document.get(name) for name in FACT_DETAILS},
    )


def summary_of(document: Mapping[str, Any]) -> FactSummary:
    return FactSummary(
        event_id=document["_id"],
        kind=document["kind"],
        month=document["month"],
        entities=tuple(document.get("entities", ())),
        order_id=document.get("order_id"),
    )


class FactStore:
    def __init__(self, facts: Collection, unmarked: Collection) -> None:
        self.facts = facts
        self.unmarked = unmarked
        # Concurrent deliveries share insert commands (prefetch runs many handlers at once).
        self._fact_inserts = BatchedInserts(facts)
        self._unmarked_inserts = BatchedInserts(unmarked)

    async def add(self, fact: Fact) -> bool:
        """Store the fact once; False when this event id was stored before (a redelivery)."""
        return await self._fact_inserts.insert(fact_document(fact))

    async def note_unmarked(self, fact: Fact) -> None:
        """Leave word that the fact's marks are still to be written (idempotent by event id)."""
        await self._unmarked_inserts.insert(
            {
                "_id": fact.event_id,
                "kind": fact.kind,
                "month": fact.month,
                "entities": list(fact.entities),
                "order_id": fact.order_id,
            }
        )

    async def take_unmarked(self, limit: int) -> list[FactSummary]:
        return [summary_of(doc) async for doc in self.unmarked.find({}).limit(limit)]

    async def forget_unmarked(self, event_ids: Sequence[str]) -> None:
        for chunk in in_chunks(event_ids):
            await self.unmarked.delete_many({"_id": {"$in": chunk}})

    async def unmarked_count(self) -> int:
        return await self.unmarked.estimated_document_count()

    async def of_orders(self, order_ids: Iterable[str]) -> list[Fact]:
        return [
            fact_of(doc)
            for chunk in in_chunks(sorted(set(order_ids)))
            async for doc in self.facts.find({"order_id": {"$in": chunk}}, FACT_FIELDS)
        ]

    async def of_entity(
        self, entity: str, month: str, *, onwards: bool = False
    ) -> list[FactSummary]:
        """The entity's facts of one month (or of that month and later)."""
        when: Any = {"$gte": month} if onwards else month
        cursor = self.facts.find({"entities": entity, "month": when}, SUMMARY_FIELDS)
        return [summary_of(doc) async for doc in cursor]

    async def of_month(self, kinds: Iterable[str], month: str) -> list[FactSummary]:
        """Every fact of these kinds in the month."""
        cursor = self.facts.find(
            {"kind": {"$in": sorted(kinds)}, "month": month}, SUMMARY_FIELDS, batch_size=10_000
        )
        return [summary_of(doc) async for doc in cursor]

    async def of_kind(self, kind: str, months: Sequence[str]) -> list[Fact]:
        cursor = self.facts.find({"kind": kind, "month": {"$in": list(months)}}, FACT_FIELDS)
        return [fact_of(doc) async for doc in cursor]

    async def every_fact(self) -> AsyncIterator[Fact]:
        # Large batches: a rebuild streams every fact, and each batch is one stand-in round trip.
        async for doc in self.facts.find({}, FACT_FIELDS, batch_size=10_000):
            yield fact_of(doc)


@dataclass(frozen=True)
class DirtyMark:
    """One entity whose figures of some months (and so of their quarters and years) are out of
    date; `version` counts the facts that marked it, so settling a mark marked again meanwhile
    leaves it for another pass."""

    mark_id: str
    entity: str
    months: tuple[str, ...]
    version: int
    # Set on the marks this replica holds (claim_all).
    lease_token: str | None = None


def _mark(document: Document) -> DirtyMark:
    if "months" in document:
        months = tuple(sorted(document["months"]))
    else:
        # A mark of one (entity, period) as stored until 2026-12-04: recomputing the period's
        # months recomputes it too.
        months = tuple(months_of(Period(document["granularity"], document["period"])))
    return DirtyMark(
        mark_id=document["_id"],
        entity=document["entity"],
        months=months,
        version=int(document["version"]),
        lease_token=document.get("lease_token"),
    )


class DirtyQueue:
    """Entities whose figures are out of date, with the months that changed, claimed with a
    lease. One mark per entity, not per (entity, period): the replica holding it recomputes the
    months and then merges their quarters and years, and no other replica merges that entity's
    quarter from months it is rewriting. Three marks per (entity, month) cost four writes more
    per month than one: marking the parents, claiming and settling each (bench/scoring)."""

    def __init__(self, dirty: Collection) -> None:
        self.dirty = dirty

    async def mark(self, marks: Iterable[tuple[str, Period]], due_at: DueAt) -> None:
        """Mark entities' months for recomputation, each not before `due_at(entity)`: the marks
        of a burst of facts gather on one document each and are recomputed once. Marking again
        keeps the first due time."""
        months: dict[str, set[str]] = {}
        for entity, period in marks:
            if period.granularity != "month":
                raise ValueError(f"marks name months, not {period.granularity}s: {period.key}")
            months.setdefault(entity, set()).add(period.key)
        operations = [
            UpdateOne(
                {"_id": entity},
                {
                    "$inc": {"version": 1},
                    "$addToSet": {"months": {"$each": sorted(keys)}},
                    "$setOnInsert": {"entity": entity, "lease_until": due_at(entity)},
                },
                upsert=True,
            )
            for entity, keys in sorted(months.items())
        ]
        if operations:
            await self.dirty.bulk_write(operations, ordered=False)

    async def due(self, now: datetime, limit: int) -> list[DirtyMark]:
        cursor = self.dirty.find({"lease_until": {"$lte": now}}).limit(limit)
        return [_mark(doc) async for doc in cursor]

    async def claim_all(
        self, marks: Sequence[DirtyMark], now: datetime, lease: timedelta
    ) -> list[DirtyMark]:
        """Lease the marks still due; returns those this replica now holds, as they are now
        (another replica may hold some; a new fact may have added a month meanwhile)."""
        if not marks:
            return []
        token = uuid.uuid4().hex
        for chunk in in_chunks(m.mark_id for m in marks):
            await self.dirty.update_many(
                {"_id": {"$in": chunk}, "lease_until": {"$lte": now}},
                {"$set": {"lease_until": now + lease, "lease_token": token}},
            )
        return [
            _mark(doc)
            for chunk in in_chunks(m.mark_id for m in marks)
            async for doc in self.dirty.find({"_id": {"$in": chunk}, "lease_token": token})
        ]

    async def settle_all(self, marks: Sequence[DirtyMark], due_at: DueAt) -> None:
        """Done: drop the marks, except those marked again meanwhile, which are released for
        another pass at `due_at(entity)` (their version moved; their months are all recomputed
        again then). Due at once, an area marked while facts trickle in would be recomputed
        back to back (the 10,000-report fault run of 2026-12-07)."""
        if not marks:
            return
        await self.dirty.bulk_write(
            [DeleteOne({"_id": m.mark_id, "version": m.version}) for m in marks], ordered=False
        )
        await self.release_all(marks, due_at)

    async def renew_all(self, marks: Sequence[DirtyMark], until: datetime) -> None:
        """Keep holding marks still being recomputed (only while this replica's token holds)."""
        await self._update_held(marks, {"$set": {"lease_until": until}})

    async def release_all(self, marks: Sequence[DirtyMark], due_at: DueAt) -> None:
        """Give up held marks, each due again at `due_at(entity)` (one write per due time)."""
        by_due: dict[datetime, list[DirtyMark]] = {}
        for mark in marks:
            by_due.setdefault(due_at(mark.entity), []).append(mark)
        for due, group in sorted(by_due.items()):
            await self._update_held(
                group, {"$set": {"lease_until": due}, "$unset": {"lease_token": ""}}
            )

    async def _update_held(self, marks: Sequence[DirtyMark], update: Document) -> None:
        """Update the marks that still carry the lease token this replica claimed them with."""
        tokens = sorted({m.lease_token for m in marks if m.lease_token})
        for chunk in in_chunks(m.mark_id for m in marks):
            await self.dirty.update_many(
                {"_id": {"$in": chunk}, "lease_token": {"$in": tokens}}, update
            )

    async def pending(self) -> int:
        """Entities still to recompute. From the collection's metadata: count_documents would
        decode every mark."""
        return await self.dirty.estimated_document_count()

    async def pending_within(self, period: Period) -> int:
        """Marks still to recompute a month of the period (or the period, for a mark stored
        before marks named months)."""
        keys = sorted({period.key, *months_of(period)})
        return await self.dirty.count_documents(
            {"$or": [{"months": {"$in": keys}}, {"period": {"$in": keys}}]}
        )


class FigureStore:
    def __init__(self, figures: Collection, samples: Collection) -> None:
        self.figures = figures
        self.samples = samples

    async def get(self, ids: Sequence[str]) -> dict[str, Document]:
        return await _by_id(self.figures, ids)

    async def get_samples(self, ids: Sequence[str]) -> dict[str, Document]:
        return await _by_id(self.samples, ids)

    async def handled_counts(self, level: str, period: str) -> list[HandledCount]:
        """Every entity's count of handled orders at a level in a period."""
        documents = await self.of_level(level, period, ["handled"])
        return [
            HandledCount(str(d["entity_id"]), int(cast(int, d.get("counts", {}).get("handled", 0))))
            for d in documents
        ]

    async def of_level(
        self, level: str, period: str, metrics: Iterable[str] | None = None
    ) -> list[Document]:
        """Every entity's figures at a level in a period; only the named metrics if given (a grid
        ranking decodes 2,676 documents: the less each carries, the sooner it answers)."""
        projection = None
        if metrics is not None:
            projection = {"entity_id": 1, "period": 1}
            for metric in metrics:
                projection.update(
                    {f"counts.{metric}": 1, f"ratios.{metric}": 1, f"medians.{metric}": 1}
                )
                projection[f"samples.{metric}"] = 1
        cursor = self.figures.find({"level": level, "period": period}, projection)
        return [doc async for doc in cursor]

    async def put_many(self, items: Iterable[tuple[str, Period, Figures]], now: datetime) -> None:
        """Replace entities' figures (a month keeps its samples too), a thousand per command."""
        figures: list[ReplaceOne[Document]] = []
        samples: list[ReplaceOne[Document]] = []
        for entity, period, result in items:
            key = figure_id(entity, period.key)
            figures.append(ReplaceOne({"_id": key}, _document(entity, period, result, now), True))
            if period.granularity == "month":
                samples.append(ReplaceOne({"_id": key}, samples_document(result), True))
        for collection, operations in ((self.figures, figures), (self.samples, samples)):
            for start in range(0, len(operations), 1_000):  # an empty list writes nothing
                await collection.bulk_write(operations[start : start + 1_000], ordered=False)

    def all(self) -> Any:
        return self.figures.find({})

    async def remove(self, ids: Sequence[str]) -> None:
        for chunk in in_chunks(ids):
            await self.figures.delete_many({"_id": {"$in": chunk}})
            await self.samples.delete_many({"_id": {"$in": chunk}})


async def _by_id(collection: Collection, ids: Iterable[str]) -> dict[str, Document]:
    return {
        doc["_id"]: doc
        for chunk in in_chunks(ids)
        async for doc in collection.find({"_id": {"$in": chunk}})
    }


def _document(entity: str, period: Period, figures: Figures, now: datetime) -> Document:
    level, entity_id = split_entity_key(entity)
    return {
        "level": level,
        "entity_id": entity_id,
        "period": period.key,
        "granularity": period.granularity,
        "computed_at": now,
        **figures_document(figures),
    }


@dataclass(frozen=True)
class HandledCount:
    """How many orders one entity handled in a period: what top performers are ranked by."""

    entity_id: str
    handled: int


@dataclass(frozen=True)
class PeriodRecord:
    """A period with figures, and whether it has been closed (commendations announced)."""

    period: Period
    ends_at: datetime
    closes_at: datetime
    closed: bool
    closed_at: datetime | None = None
    commendations: Mapping[str, Any] | None = None


def _period_record(document: Document) -> PeriodRecord:
    return PeriodRecord(
        period=Period(document["granularity"], document["_id"]),
        ends_at=document["ends_at"],
        closes_at=document["closes_at"],
        closed=bool(document["closed"]),
        closed_at=document.get("closed_at"),
        commendations=document.get("commendations"),
    )


class PeriodStore:
    """The periods scoring has figures for; closing one stores its event in the period's own
    outbox, in the same conditional update, and hands it to the relay."""

    def __init__(self, periods: Collection, grace: timedelta, relay_now: RelayNow) -> None:
        self.periods = periods
        # A period closes this long after it ends, so that late events are counted first.
        self.grace = grace
        self._relay_now = relay_now
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

    async def due(self, now: datetime) -> list[PeriodRecord]:
        cursor = self.periods.find({"closed": False, "closes_at": {"$lte": now}}).sort("closes_at")
        return [_period_record(doc) async for doc in cursor]

    async def get(self, key: str) -> PeriodRecord | None:
        document = await self.periods.find_one({"_id": key})
        return None if document is None else _period_record(document)

    async def close(
        self, period: Period, commendations: Mapping[str, Any], event: Outgoing, now: datetime
    ) -> bool:
        """Mark the period closed with its commendations and `event` in its outbox; False when
        another replica closed it first (then nothing is written or published)."""
        update = with_outbox(
            {"$set": {"closed": True, "closed_at": now, "commendations": dict(commendations)}},
            [event],
            now,
        )
        result = await self.periods.update_one({"_id": period.key, "closed": False}, update)
        if result.modified_count != 1:
            return False
        self._relay_now(self.periods, period.key, [event])
        return True
