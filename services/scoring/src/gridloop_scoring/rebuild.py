"""Recompute every figure from the stored facts, in one pass: `gridloop-scoring rebuild`.

The incremental path recomputes one (entity, month) at a time from indexed queries; this reads
all facts once and groups them in memory, then applies the same pure rules (figures.py). With
`--check` it writes nothing and reports every stored figure that differs from the rebuilt one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from gridloop_common.clock import Clock
from gridloop_common.periods import Period, parent_periods
from gridloop_scoring.facts import Fact
from gridloop_scoring.figures import (
    Figures,
    figures_document,
    merge,
    month_figures,
)
from gridloop_scoring.orders import OrderRecord, fold_orders
from gridloop_scoring.recompute import FLOW_KINDS
from gridloop_scoring.repository import FactStore, FigureStore, figure_id

# The parts of a stored figures document that the rules determine (not when it was computed).
COMPARED = ("counts", "ratios", "medians", "samples")


def figures_from_facts(facts: Iterable[Fact]) -> dict[tuple[str, Period], Figures]:
    """Every entity's figures in every month, quarter and year the facts touch."""
    kinds: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    order_facts: list[Fact] = []
    for fact in facts:
        if fact.kind in FLOW_KINDS:
            month = fact.month
            for entity in fact.entities:
                kinds[(entity, month)][fact.kind] += 1
        if fact.order_id:
            order_facts.append(fact)
    cohorts: dict[tuple[str, str], list[OrderRecord]] = defaultdict(list)
    for record in fold_orders(order_facts).values():
        if record.dispatch_month is not None:
            for entity in record.entities():
                cohorts[(entity, record.dispatch_month)].append(record)
    months = {
        pair: month_figures(kinds.get(pair, Counter()).elements(), cohorts.get(pair, ()))
        for pair in set(kinds) | set(cohorts)
    }
    by_parent: dict[tuple[str, Period], list[Figures]] = defaultdict(list)
    for (entity, month), figures in months.items():
        for parent in parent_periods(month):
            by_parent[(entity, parent)].append(figures)
    result = {(entity, Period("month", month)): f for (entity, month), f in months.items()}
    result.update({pair: merge(parts) for pair, parts in by_parent.items()})
    return result


@dataclass
class RebuildReport:
    facts: int = 0
    figures: int = 0
    differing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not (self.differing or self.missing or self.stale)


async def rebuild(
    facts: FactStore, figures: FigureStore, clock: Clock, *, check: bool
) -> RebuildReport:
    every_fact = [fact async for fact in facts.every_fact()]
    rebuilt = figures_from_facts(every_fact)
    report = RebuildReport(facts=len(every_fact), figures=len(rebuilt))
    stored = {doc["_id"]: doc async for doc in figures.all()}
    expected = {figure_id(entity, period.key): (entity, period) for entity, period in rebuilt}
    for key, (entity, period) in expected.items():
        document = figures_document(rebuilt[(entity, period)])
        current = stored.get(key)
        if current is None:
            report.missing.append(key)
        elif any(current.get(part) != document[part] for part in COMPARED):
            report.differing.append(key)
    report.stale = sorted(set(stored) - set(expected))
    report.missing.sort()
    report.differing.sort()
    if check:
        return report
    await figures.put_many(
        ((entity, period, rebuilt[(entity, period)]) for entity, period in expected.values()),
        clock.now(),
    )
    await figures.remove(report.stale)
    return report
