"""The composite score: rates as they are, counts against the level's best, exact arithmetic."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gridloop_scoring.composite import composite_scores
from gridloop_scoring.view import FigureView


def view(entity_id: str, handled: int, on_time: tuple[int, int], breaches: int = 0) -> FigureView:
    document: dict[str, Any] = {
        "entity_id": entity_id,
        "period": "2026-Q4",
        "counts": {"handled": handled, "breaches": breaches},
        "ratios": {"on_time_completion_rate": list(on_time)},
        "medians": {},
    }
    return FigureView.of(document)


def test_score_is_the_weighted_mean_of_normalised_parts() -> None:
    views = [view("a", 10, (9, 10)), view("b", 5, (5, 5))]
    scores = {
        c.entity_id: c
        for c in composite_scores(views, {"on_time_completion_rate": 3, "handled": 1})
    }
    # a: (3 * 9/10 + 1 * 10/10) / 4 * 100; b: (3 * 1 + 1 * 5/10) / 4 * 100
    assert scores["a"].score == Fraction(925, 10)
    assert scores["b"].score == Fraction(875, 10)
    part = {p.metric: p for p in scores["b"].parts}["handled"]
    assert (part.value, part.normalised, part.weight) == (5, Fraction(1, 2), 1)


def test_fewer_breaches_is_better_and_nobody_with_any_means_full_marks() -> None:
    views = [view("a", 1, (1, 1), breaches=4), view("b", 1, (1, 1), breaches=1)]
    scores = {c.entity_id: c.score for c in composite_scores(views, {"breaches": 1})}
    assert scores == {"a": 0, "b": 75}
    calm = [view("a", 1, (1, 1)), view("b", 1, (1, 1))]
    assert {c.score for c in composite_scores(calm, {"breaches": 1})} == {100}


def test_a_rate_without_denominator_earns_nothing_and_equal_work_ties_exactly() -> None:
    views = [view("idle", 0, (0, 0)), view("x", 3, (1, 3)), view("y", 3, (2, 6))]
    scores = {c.entity_id: c.score for c in composite_scores(views, {"on_time_completion_rate": 1})}
    assert scores["idle"] == 0
    assert scores["x"] == scores["y"]  # 1/3 and 2/6: equal, not merely close
