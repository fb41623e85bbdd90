"""Reading a stored figures document: a metric's value, and the counts behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from gridloop_scoring.levels import METRICS


@dataclass(frozen=True)
class FigureView:
    entity_id: str
    period: str
    document: Mapping[str, Any]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> FigureView:
        return cls(str(document["entity_id"]), str(document["period"]), document)

    def value(self, metric: str) -> float | None:
        kind = METRICS[metric].kind
        if kind == "count":
            return int(self.document.get("counts", {}).get(metric, 0))
        if kind == "rate":
            numerator, denominator = self.ratio(metric)
            return numerator / denominator if denominator else None
        median = self.document.get("medians", {}).get(metric)
        return None if median is None else float(median)

    def exact(self, metric: str) -> Fraction | None:
        """The value as an exact fraction: 1/3 and 2/6 compare equal, as they should."""
        if METRICS[metric].kind == "rate":
            numerator, denominator = self.ratio(metric)
            return Fraction(numerator, denominator) if denominator else None
        value = self.value(metric)
        # Medians are stored in milliseconds' precision: their decimal text is exact.
        return None if value is None else Fraction(repr(value))

    def ratio(self, metric: str) -> tuple[int, int]:
        pair = self.document.get("ratios", {}).get(metric, (0, 0))
        return int(pair[0]), int(pair[1])

    def describe(self, metric: str) -> dict[str, Any]:
        """The metric as the API shows it: value, and numerator/denominator or sample size."""
        kind = METRICS[metric].kind
        answer: dict[str, Any] = {"value": self.value(metric)}
        if kind == "rate":
            answer["numerator"], answer["denominator"] = self.ratio(metric)
        elif kind == "median":
            answer["orders"] = int(self.document.get("samples", {}).get(metric, 0))
        return answer


def empty_view(entity_id: str, period: str) -> FigureView:
    """An entity with no figures in a period: every count 0, every rate and median empty."""
    return FigureView(entity_id, period, {})
