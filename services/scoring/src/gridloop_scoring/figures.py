"""Pure: one entity's figures for one period, and how months add up to quarters and years.

Two rules, named in the README:
- **Counts** (`reported`, `dispatched`, `handled`, `reopens`, `breaches`) count facts in the
  period in which the thing happened. They are final once the period's late events are in.
- **Rates and medians** describe the orders dispatched in the period, as they stand now: of
  November's orders, how many were accepted, on time, completed, closed satisfied. A numerator is
  always a subset of its denominator, so no rate exceeds 100 %.

A quarter's or a year's figures are the sum of its months' (medians from the months' samples),
so a year is never recounted from its facts.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridloop_scoring.levels import COUNT_METRICS, METRICS, RATE_METRICS
from gridloop_scoring.orders import OrderRecord

# Which fact kinds each count metric counts.
COUNTED_KINDS: dict[str, tuple[str, ...]] = {
    "reported": ("reported",),
    "dispatched": ("dispatched",),
    "handled": ("completed", "resolved_locally"),
    "reopens": ("reopened",),
    "breaches": ("sla_breached",),
}


@dataclass(frozen=True)
class Figures:
    counts: Mapping[str, int] = field(default_factory=dict)
    # metric → (numerator, denominator)
    ratios: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # Seconds from dispatch to acceptance / completion, sorted: medians merge exactly.
    accept_seconds: tuple[float, ...] = ()
    complete_seconds: tuple[float, ...] = ()

    def value(self, metric: str) -> float | None:
        """The metric's value; None for a rate without denominator or a median without samples."""
        kind = METRICS[metric].kind
        if kind == "count":
            return self.counts.get(metric, 0)
        if kind == "rate":
            numerator, denominator = self.ratios.get(metric, (0, 0))
            return numerator / denominator if denominator else None
        samples = (
            self.accept_seconds if metric == "median_accept_seconds" else self.complete_seconds
        )
        return statistics.median(samples) if samples else None


def _seconds(later: datetime, earlier: datetime) -> float:
    # Milliseconds, as the database keeps times: the same value however a figure was computed.
    return round((later - earlier).total_seconds(), 3)


def month_figures(kinds: Iterable[str], orders: Iterable[OrderRecord]) -> Figures:
    """A month's figures from the kinds of the facts that happened in it (counts) and the records
    of the orders dispatched in it (rates, medians)."""
    by_kind = Counter(kinds)
    counts = {metric: sum(by_kind[k] for k in COUNTED_KINDS[metric]) for metric in COUNT_METRICS}
    dispatched = accepted = accepted_on_time = completed_of_accepted = 0
    completed = completed_on_time = closed = closed_satisfied = 0
    case_completions = resolved = 0
    accept_seconds: list[float] = []
    complete_seconds: list[float] = []
    for order in orders:
        if order.dispatched_at is None:
            continue
        dispatched += 1
        if order.accepted_at is not None:
            accepted += 1
            accepted_on_time += order.accepted_on_time
            completed_of_accepted += order.completed_at is not None
            accept_seconds.append(_seconds(order.accepted_at, order.dispatched_at))
        if order.completed_at is not None:
            completed += 1
            completed_on_time += order.completed_on_time
            if order.completes_case:
                case_completions += 1
                resolved += order.satisfied is True
            complete_seconds.append(_seconds(order.completed_at, order.dispatched_at))
        if order.satisfied is not None:
            closed += 1
            closed_satisfied += order.satisfied
    ratios = {
        "acceptance_rate": (accepted, dispatched),
        "on_time_acceptance_rate": (accepted_on_time, dispatched),
        "completion_rate": (completed_of_accepted, accepted),
        "on_time_completion_rate": (completed_on_time, completed),
        "resolution_rate": (resolved, case_completions),
        "satisfaction_rate": (closed_satisfied, closed),
    }
    return Figures(counts, ratios, tuple(sorted(accept_seconds)), tuple(sorted(complete_seconds)))


def merge(parts: Iterable[Figures]) -> Figures:
    """Figures of a longer period from those of its months."""
    counts: Counter[str] = Counter()
    numerators: Counter[str] = Counter()
    denominators: Counter[str] = Counter()
    accept: list[float] = []
    complete: list[float] = []
    for part in parts:
        counts.update(part.counts)
        for metric, (numerator, denominator) in part.ratios.items():
            numerators[metric] += numerator
            denominators[metric] += denominator
        accept += part.accept_seconds
        complete += part.complete_seconds
    return Figures(
        {metric: counts[metric] for metric in COUNT_METRICS},
        {metric: (numerators[metric], denominators[metric]) for metric in RATE_METRICS},
        tuple(sorted(accept)),
        tuple(sorted(complete)),
    )


def figures_document(figures: Figures) -> dict[str, Any]:
    """How figures are stored (samples apart, see repository): counts, ratios, medians."""
    return {
        "counts": dict(figures.counts),
        "ratios": {metric: list(pair) for metric, pair in figures.ratios.items()},
        "medians": {
            "median_accept_seconds": figures.value("median_accept_seconds"),
            "median_complete_seconds": figures.value("median_complete_seconds"),
        },
        "samples": {
            "median_accept_seconds": len(figures.accept_seconds),
            "median_complete_seconds": len(figures.complete_seconds),
        },
    }


def samples_document(figures: Figures) -> dict[str, Any]:
    return {"accept": list(figures.accept_seconds), "complete": list(figures.complete_seconds)}


def figures_from_documents(
    document: Mapping[str, Any], samples: Mapping[str, Any] | None
) -> Figures:
    return Figures(
        counts=dict(document.get("counts", {})),
        ratios={m: (int(p[0]), int(p[1])) for m, p in document.get("ratios", {}).items()},
        accept_seconds=tuple(samples.get("accept", ())) if samples else (),
        complete_seconds=tuple(samples.get("complete", ())) if samples else (),
    )
