"""Pure: the composite score a quarterly grade is given on, with its parts.

    score = 100 * sum(weight(m) * normalised(m)) / sum(weight(m))  over the level's weighted ones

normalised(m), between 0 and 1, compared within the level and period being graded:
- a rate: numerator ÷ denominator (0 without a denominator: nothing done, nothing earned);
- a count where more is better (`handled`, `reported`, `dispatched`): value ÷ the level's largest;
- a count where fewer is better (`reopens`, `breaches`): 1 - value ÷ the level's largest
  (1 for everyone when nobody has any);
- a median time (fewer seconds is better): the level's smallest ÷ value (0 without one).

Arithmetic is exact (fractions): equal work gives equal scores, never a rounding difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from gridloop_scoring.levels import METRICS
from gridloop_scoring.view import FigureView


@dataclass(frozen=True)
class Part:
    metric: str
    value: float | None
    normalised: Fraction
    weight: Fraction

    @property
    def points(self) -> Fraction:
        return self.weight * self.normalised


@dataclass(frozen=True)
class Composite:
    entity_id: str
    score: Fraction
    parts: tuple[Part, ...]


def composite_scores(views: Sequence[FigureView], weights: Mapping[str, float]) -> list[Composite]:
    exact_weights = {m: Fraction(str(w)) for m, w in weights.items() if w > 0}
    total_weight = sum(exact_weights.values(), Fraction(0))
    largest: dict[str, Fraction] = {}
    smallest: dict[str, Fraction] = {}
    for metric in exact_weights:
        values = [v for v in (view.exact(metric) for view in views) if v is not None]
        largest[metric] = max(values, default=Fraction(0))
        smallest[metric] = min(values, default=Fraction(0))
    scored = []
    for view in views:
        parts = tuple(
            Part(
                metric,
                view.value(metric),
                _normalised(metric, view.exact(metric), largest[metric], smallest[metric]),
                weight,
            )
            for metric, weight in exact_weights.items()
        )
        points = sum((part.points for part in parts), Fraction(0))
        score = 100 * points / total_weight if total_weight else Fraction(0)
        scored.append(Composite(view.entity_id, score, parts))
    return scored


def _normalised(
    metric: str, value: Fraction | None, largest: Fraction, smallest: Fraction
) -> Fraction:
    kind = METRICS[metric].kind
    if kind == "rate":
        return value if value is not None else Fraction(0)
    if kind == "median":
        if value is None:
            return Fraction(0)
        return smallest / value if value > 0 else Fraction(1)
    count = value or Fraction(0)
    if METRICS[metric].higher_is_better:
        return count / largest if largest else Fraction(0)
    return 1 - count / largest if largest else Fraction(1)
