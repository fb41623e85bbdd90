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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from gridloop_common.clock import Clock
from gridloop_common.periods import Period, months_of, parent_periods
from gridloop_common.tasks import cancel_and_wait
from gridloop_scoring.figures import Figures, figures_from_documents, merge, month_figures
from gridloop_scoring.levels import split_entity_key
from gridloop_scoring.orders import fold_orders
from gridloop_scoring.repository import (
    DirtyMark,
    DirtyQueue,
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
        await self.dirty.mark(marks_from(notes, order_facts), self.clock.now() + self.delay)
        await self.facts.forget_unmarked([n["_id"] for n in notes])
        return len(notes)

    async def recompute_due(self) -> int:
        """Recompute a batch of due marks: months first and written, then the quarters and years
        in the batch merged from them; writes and settling are one command each per batch."""
        now = self.clock.now()
        held = await self.dirty.claim_all(await self.dirty.due(now, self.batch), now, self.lease)
        if not held:
            return 0
        renewing = asyncio.create_task(self._keep_leased(held))
        try:
            months = [m for m in held if m.period.granularity == "month"]
            longer = [m for m in held if m.period.granularity != "month"]
            results = [
                (m.entity, m.period, await self._month(m.entity, m.period.key)) for m in months
            ]
            await self.figures.put_many(results, self.clock.now())
            # Their quarters and years, unless merged below in this batch from what was just
            # written (marking those again would only recompute them once more).
            merged_here = {(m.entity, m.period.key) for m in longer}
            parents = {
                (entity, parent)
                for entity, month, _ in results
                for parent in parent_periods(month.key)
                if (entity, parent.key) not in merged_here
            }
            await self.dirty.mark(parents, self.clock.now() + self.delay)
            merged = await self._merged(longer)
            await self.figures.put_many(merged, self.clock.now())
            for period in {period for _, period, _ in [*results, *merged]}:
                await self.periods.seen(period)
        except Exception:
            await cancel_and_wait([renewing])
            await self.dirty.release_all(held)
            raise
        await cancel_and_wait([renewing])
        await self.dirty.settle_all(held)
        return len(held)

    async def _keep_leased(self, held: Sequence[DirtyMark]) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            await self.dirty.renew_all(held, self.clock.now() + self.lease)

    async def _merged(self, marks: Sequence[DirtyMark]) -> list[tuple[str, Period, Figures]]:
        """Quarters and years from their months' stored figures and samples (read in one go)."""
        wanted = [
            (m.entity, m.period, [figure_id(m.entity, month) for month in months_of(m.period)])
            for m in marks
        ]
        ids = sorted({i for _, _, month_ids in wanted for i in month_ids})
        documents = await self.figures.get(ids) if ids else {}
        samples = await self.figures.get_samples(ids) if ids else {}
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
