"""Recompute every figure from the stored facts, in one pass: `gridloop-scoring rebuild`.

The incremental path recomputes one (entity, month) at a time from indexed queries; this reads
all facts once and groups them in memory, then applies the same pure rules (figures.py). With
`--check` it writes nothing and reports every stored figure that differs from the rebuilt one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gridloop_common.clock import Clock
from gridloop_common.periods import Period, parent_periods
from gridloop_scoring.figures import (
    Figures,
    figures_document,
    merge,
    month_figures,
)
from gridloop_scoring.orders import OrderRecord, fold_orders
from gridloop_scoring.recompute import FLOW_KINDS
from gridloop_scoring.repository import FactStore, FigureStore, figure_id

# What the rules read of a fact: the rest (received_at, quarter, year, ids) stays in the database,
# which at a million facts is a third of the memory.
USED_FIELDS = dict.fromkeys(
    (
        "kind", "occurred_at", "month", "entities", "order_id", "case_id", "department",
        "category_code", "grid_id", "village_id", "township_id", "handler", "clock", "accept_by",
        "complete_by", "satisfied", "case_complete",
    ),
    1,
)  # fmt: skip
# The parts of a stored figures document that the rules determine (not when it was computed).
COMPARED = ("counts", "ratios", "medians", "samples")


def figures_from_facts(facts: Iterable[Mapping[str, Any]]) -> dict[tuple[str, Period], Figures]:
    """Every entity's figures in every month, quarter and year the facts touch."""
    kinds: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    order_facts: list[Mapping[str, Any]] = []
    for fact in facts:
        if fact["kind"] in FLOW_KINDS:
            for entity in fact.get("entities", ()):
                kinds[(entity, fact["month"])][fact["kind"]] += 1
        if fact.get("order_id"):
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
    documents = [doc async for doc in facts.all(projection=USED_FIELDS)]
    rebuilt = figures_from_facts(documents)
    report = RebuildReport(facts=len(documents), figures=len(rebuilt))
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
