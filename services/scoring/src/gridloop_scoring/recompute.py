"""Keeps the figures current: every stored fact marks the (entity, period) pairs it changes, and
this loop recomputes each marked pair from the facts.

Figures are never incremented. A recompute reads the facts of one entity and month and writes the
result whole, so a fact stored twice, a crash between storing a fact and recomputing, or two
replicas recomputing at once cannot make a figure drift: the next recompute of the pair gives the
same answer a full rebuild gives.

Three steps, each safe to repeat:
1. A delivery stores its fact, then an `unmarked` note of it (even when the fact was stored
   before: that delivery may have died between the two).
2. This loop takes many notes at once, reads their orders' facts in one query, writes the marks
   (deduplicated, due after a short delay so a burst gathers; an area's or a department's at the
   next tick of a longer one, see `due_at`) and deletes the notes.
3. It claims due marks with a lease and recomputes them: a mark names an entity and the months
   to recompute; the quarters and years those months fall in are merged from the months once
   they are written, by the replica holding the entity's mark (so two replicas never merge one
   entity's quarter from months the other is rewriting). A mark carries a version; a recompute
   that overlapped a new mark finds the version moved and leaves the mark for another pass.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.periods import Period, months_of, parent_periods
from gridloop_common.tasks import cancel_and_wait
from gridloop_scoring.facts import Fact, FactSummary
from gridloop_scoring.figures import Figures, figures_from_documents, merge, month_figures
from gridloop_scoring.levels import Level, split_entity_key
from gridloop_scoring.orders import OrderRecord, fold_orders
from gridloop_scoring.repository import (
    DirtyMark,
    DirtyQueue,
    DueAt,
    FactStore,
    FigureStore,
    PeriodStore,
    figure_id,
)

log = structlog.stdlib.get_logger("gridloop.scoring.recompute")

# Kinds a count metric counts (see figures.COUNTED_KINDS) and kinds an order's record folds in.
FLOW_KINDS = frozenset(
    {"reported", "dispatched", "completed", "resolved_locally", "reopened", "sla_breached"}
)
ORDER_KINDS = frozenset(
    {"dispatched", "accepted", "completed", "closed", "extended"}
    | {"sla_met", "sla_breached", "sla_settled_late"}
)


def marks_from(
    notes: Iterable[FactSummary], order_facts: Iterable[Fact]
) -> set[tuple[str, Period]]:
    """The (entity, month) pairs new facts change: where each happened (counts) and, for an
    order's fact, the month the order was dispatched in (rates, medians) for everyone answering
    for that order. `order_facts` are all stored facts of the notes' orders."""
    marks: set[tuple[str, Period]] = set()
    orders = fold_orders(order_facts)
    for note in notes:
        if note.kind in FLOW_KINDS:
            month = Period("month", note.month)
            marks |= {(entity, month) for entity in note.entities}
        record = orders.get(note.order_id or "")
        if note.kind in ORDER_KINDS and record and record.dispatch_month is not None:
            month = Period("month", record.dispatch_month)
            marks |= {(entity, month) for entity in record.entities()}
    return marks


def read_whole_month(entities: Iterable[str], level_sizes: Mapping[Level, int]) -> bool:
    """Whether reading every fact of a month once costs less than reading these entities' facts
    one entity at a time. Every fact counts under about one entity of each area level and its
    department, so one entity of a level of n holds about 1/n of the month: entities adding up
    to a whole level read the month once over anyway, in many queries, and then read it again
    for each further level. People (handlers, grid workers; no size given) hold little."""
    share = 0.0
    for entity in entities:
        size = level_sizes.get(split_entity_key(entity)[0])
        if size:
            share += 1 / size
    return share >= 1


# A mark whose recompute reads at least this share of its month (one entity of a level of at most
# 500: villages, townships, departments) waits for the gathering tick; grids and people do not.
GATHERED_SHARE = 1 / 500


def due_at(
    entity: str,
    now: datetime,
    delay: timedelta,
    gather: timedelta,
    level_sizes: Mapping[Level, int],
) -> datetime:
    """When a mark of `entity` made (or released) at `now` is recomputed.

    A grid's or a person's recompute reads a sliver of the month: it waits `delay`, so a burst
    gathers. A village, township or department reads a share of it (a township about 1/19), and
    facts about it keep trickling in while a city works: recomputed `delay` after each, the
    month would be read over and over (the 10,000-report fault run of 2026-12-07 kept the
    stand-in at a full core so). Those marks wait for the next tick of `gather`, counted from
    the epoch so that every replica's marks fall due together: a batch then covers whole levels
    and reads the month once (`read_whole_month`), at most once per tick however fast facts
    come, and a figure is never more than `gather` behind (plus the recompute)."""
    earliest = now + delay
    size = level_sizes.get(split_entity_key(entity)[0])
    if not gather or not size or 1 / size < GATHERED_SHARE:
        return earliest
    step = gather.total_seconds()
    return datetime.fromtimestamp(math.ceil(earliest.timestamp() / step) * step, UTC)


def order_ids_of(notes: Iterable[FactSummary]) -> set[str]:
    return {n.order_id for n in notes if n.order_id and n.kind in ORDER_KINDS}


@dataclass
class Recomputer:
    facts: FactStore
    dirty: DirtyQueue
    figures: FigureStore
    periods: PeriodStore
    clock: Clock
    interval_seconds: float = 0.5
    # How long a mark waits before it is recomputed: a burst of facts is recomputed once.
    delay: timedelta = timedelta(seconds=1)
    # The tick an area's or a department's marks wait for (see `due_at`); zero: `delay` only.
    gather: timedelta = timedelta(0)
    # Entities per level in the city (bootstrap: registry and catalogue), for read_whole_month;
    # none given, every entity is recomputed on its own.
    level_sizes: Mapping[Level, int] = field(default_factory=dict)
    # Marks claimed at once: a backlog's marks of one month are recomputed from one read of it.
    batch: int = 2_000
    notes_per_pass: int = 2_000
    # Renewed every third of itself while a batch is recomputed: a replica that dies holding
    # marks delays their figures by this much at most (the fault suite saw two minutes with a
    # fixed 120 s lease).
    lease: timedelta = timedelta(seconds=15)

    async def run(self) -> None:
        while True:
            if await self.run_once() == 0:
                await asyncio.sleep(self.interval_seconds)

    async def run_once(self) -> int:
        """Turn notes into marks, then recompute what is due; how much was done."""
        return await self.absorb_notes() + await self.recompute_due()

    async def backlog(self) -> int:
        """Notes and marks still to work through: 0 when every figure is current."""
        return await self.facts.unmarked_count() + await self.dirty.pending()

    async def absorb_notes(self) -> int:
        notes = await self.facts.take_unmarked(self.notes_per_pass)
        if not notes:
            return 0
        order_facts = await self.facts.of_orders(order_ids_of(notes))
        await self.dirty.mark(marks_from(notes, order_facts), self.due_from_now())
        await self.facts.forget_unmarked([n.event_id for n in notes])
        return len(notes)

    async def recompute_due(self) -> int:
        """Recompute a batch of due marks: each entity's marked months, written, then the
        quarters and years they fall in, merged from the months as stored; writes and settling
        are a handful of commands per batch."""
        now = self.clock.now()
        held = await self.dirty.claim_all(await self.dirty.due(now, self.batch), now, self.lease)
        if not held:
            return 0
        renewing = asyncio.create_task(self._keep_leased(held))
        try:
            months = await self._months(held)
            await self.figures.put_many(months, self.clock.now())
            parents = sorted(
                {
                    (entity, parent)
                    for entity, month, _ in months
                    for parent in parent_periods(month.key)
                },
                key=lambda pair: (pair[0], pair[1].key),
            )
            merged = await self._merged(parents)
            await self.figures.put_many(merged, self.clock.now())
            for period in {period for _, period, _ in [*months, *merged]}:
                await self.periods.seen(period)
        except Exception:
            await cancel_and_wait([renewing])
            await self.dirty.release_all(held, self.due_from_now())
            raise
        await cancel_and_wait([renewing])
        await self.dirty.settle_all(held, self.due_from_now())
        return len(held)

    def due_from_now(self) -> DueAt:
        """When a mark made now is due, by entity (a new mark, or one marked again while it was
        recomputed): one `now` for a whole batch, so its marks share a few due times."""
        now = self.clock.now()
        return lambda entity: due_at(entity, now, self.delay, self.gather, self.level_sizes)

    async def _keep_leased(self, held: Sequence[DirtyMark]) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await self.dirty.renew_all(held, self.clock.now() + self.lease)

    async def _merged(
        self, periods: Sequence[tuple[str, Period]]
    ) -> list[tuple[str, Period, Figures]]:
        """Quarters and years from their months' stored figures and samples (read in one go)."""
        wanted = [
            (entity, period, [figure_id(entity, month) for month in months_of(period)])
            for entity, period in periods
        ]
        ids = sorted({i for _, _, month_ids in wanted for i in month_ids})
        documents = await self.figures.get(ids)
        samples = await self.figures.get_samples(ids)
        return [
            (
                entity,
                period,
                merge(
                    figures_from_documents(documents[i], samples.get(i))
                    for i in month_ids
                    if i in documents
                ),
            )
            for entity, period, month_ids in wanted
        ]

    async def _months(self, held: Sequence[DirtyMark]) -> list[tuple[str, Period, Figures]]:
        """The figures of every marked (entity, month), month by month, each month read whole or
        entity by entity, whichever reads less."""
        entities_of: dict[str, list[str]] = {}
        for mark in held:
            for key in mark.months:
                entities_of.setdefault(key, []).append(mark.entity)
        results: list[tuple[str, Period, Figures]] = []
        for key, entities in sorted(entities_of.items()):
            if read_whole_month(entities, self.level_sizes):
                figures = await self._whole_month(key, entities)
            else:
                figures = {entity: await self._month(entity, key) for entity in entities}
            results += [(entity, Period("month", key), figures[entity]) for entity in entities]
        return results

    async def _whole_month(self, month: str, entities: Iterable[str]) -> dict[str, Figures]:
        """The figures of many entities for one month, from one read of the month's counted
        facts and of its orders' facts: what `_month` computes, for each of them."""
        wanted = set(entities)
        kinds: dict[str, list[str]] = {entity: [] for entity in wanted}
        cohorts: dict[str, list[OrderRecord]] = {entity: [] for entity in wanted}
        facts = await self.facts.of_month(FLOW_KINDS, month)
        for fact in facts:
            for entity in wanted.intersection(fact.entities):
                kinds[entity].append(fact.kind)
        dispatched = {f.order_id for f in facts if f.kind == "dispatched" and f.order_id}
        for record in fold_orders(await self.facts.of_orders(dispatched)).values():
            if record.dispatch_month == month:
                for entity in wanted.intersection(record.entities()):
                    cohorts[entity].append(record)
        return {entity: month_figures(kinds[entity], cohorts[entity]) for entity in wanted}

    async def _month(self, entity: str, month: str) -> Figures:
        level, _ = split_entity_key(entity)
        # A handler is named on acceptance and completion, after the dispatch: their orders of
        # this month are found among their facts from this month on.
        onwards = level == "handler"
        facts = await self.facts.of_entity(entity, month, onwards=onwards)
        kinds = [f.kind for f in facts if f.month == month and f.kind in FLOW_KINDS]
        order_ids = {
            f.order_id for f in facts if f.order_id and (onwards or f.kind == "dispatched")
        }
        records = fold_orders(await self.facts.of_orders(order_ids)).values()
        cohort = [r for r in records if r.dispatch_month == month and entity in r.entities()]
        return month_figures(kinds, cohort)
