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
   (deduplicated, due after a short delay so a burst gathers) and deletes the notes.
3. It claims due marks with a lease and recomputes them. A mark carries a version; a recompute
   that overlapped a new mark finds the version moved and leaves the mark for another pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from gridloop_common.clock import Clock
from gridloop_common.periods import Period, months_of, parent_periods
from gridloop_scoring.figures import Figures, figures_from_documents, merge, month_figures
from gridloop_scoring.levels import split_entity_key
from gridloop_scoring.orders import fold_orders
from gridloop_scoring.periods_store import PeriodStore
from gridloop_scoring.repository import DirtyQueue, FactStore, FigureStore, figure_id

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
    notes: Iterable[Mapping[str, Any]], order_facts: Iterable[Mapping[str, Any]]
) -> set[tuple[str, Period]]:
    """The (entity, month) pairs new facts change: where each happened (counts) and, for an
    order's fact, the month the order was dispatched in (rates, medians) for everyone answering
    for that order. `order_facts` are all stored facts of the notes' orders."""
    marks: set[tuple[str, Period]] = set()
    orders = fold_orders(order_facts)
    for note in notes:
        if note["kind"] in FLOW_KINDS:
            month = Period("month", note["month"])
            marks |= {(entity, month) for entity in note["entities"]}
        record = orders.get(note.get("order_id") or "")
        if note["kind"] in ORDER_KINDS and record and record.dispatch_month is not None:
            month = Period("month", record.dispatch_month)
            marks |= {(entity, month) for entity in record.entities()}
    return marks


def order_ids_of(notes: Iterable[Mapping[str, Any]]) -> set[str]:
    return {n["order_id"] for n in notes if n.get("order_id") and n["kind"] in ORDER_KINDS}


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
    batch: int = 200
    notes_per_pass: int = 2_000
    lease: timedelta = timedelta(seconds=120)

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
        await self.dirty.mark(marks_from(notes, order_facts), self.clock.now() + self.delay)
        await self.facts.forget_unmarked([n["_id"] for n in notes])
        return len(notes)

    async def recompute_due(self) -> int:
        done = 0
        for mark in await self.dirty.due(self.clock.now(), self.batch):
            if not await self.dirty.claim(mark, self.clock.now(), self.lease):
                continue  # another replica has it, or it was marked again since we read it
            period = Period(mark["granularity"], mark["period"])
            try:
                await self.recompute(mark["entity"], period)
            except Exception:
                await self.dirty.release(mark)
                raise
            await self.dirty.settle(mark)
            done += 1
        return done

    async def recompute(self, entity: str, period: Period) -> None:
        if period.granularity == "month":
            figures = await self._month(entity, period.key)
        else:
            figures = await self._merged(entity, period)
        await self.figures.put(entity, period, figures, self.clock.now())
        if period.granularity == "month":
            parents = ((entity, parent) for parent in parent_periods(period.key))
            await self.dirty.mark(parents, self.clock.now() + self.delay)
        await self.periods.seen(period)

    async def _month(self, entity: str, month: str) -> Figures:
        level, _ = split_entity_key(entity)
        # A handler is named on acceptance and completion, after the dispatch: their orders of
        # this month are found among their facts from this month on.
        onwards = level == "handler"
        facts = await self.facts.of_entity(entity, month, onwards=onwards)
        kinds = [f["kind"] for f in facts if f["month"] == month and f["kind"] in FLOW_KINDS]
        order_ids = {
            f["order_id"]
            for f in facts
            if f.get("order_id") and (onwards or f["kind"] == "dispatched")
        }
        records = fold_orders(await self.facts.of_orders(order_ids)).values()
        cohort = [r for r in records if r.dispatch_month == month and entity in r.entities()]
        return month_figures(kinds, cohort)

    async def _merged(self, entity: str, period: Period) -> Figures:
        ids = [figure_id(entity, month) for month in months_of(period)]
        documents = await self.figures.get(ids)
        samples = await self.figures.get_samples(ids)
        return merge(
            figures_from_documents(documents[i], samples.get(i)) for i in ids if i in documents
        )
