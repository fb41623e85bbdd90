"""Quarterly grades: exactly 1 : 2 : 7 by largest remainder, deterministic and explained."""

from __future__ import annotations

from fractions import Fraction

import pytest

from gridloop_scoring.grading import Candidate, assign_grades, grade_counts


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, (0, 0, 0)),
        (1, (0, 0, 1)),
        (2, (0, 0, 2)),  # remainders .2/.4/.4: the tie goes to the lower grade
        (3, (0, 1, 2)),
        (5, (0, 1, 4)),  # .5/0/.5: tie to pass
        (10, (1, 2, 7)),
        (15, (1, 3, 11)),
        (156, (16, 31, 109)),
        (2676, (268, 535, 1873)),
    ],
)
def test_grade_counts_follow_one_two_seven_by_largest_remainder(
    n: int, expected: tuple[int, int, int]
) -> None:
    assert grade_counts(n) == expected


def test_grade_counts_always_sum_to_n_and_stay_within_one_of_the_quota() -> None:
    for n in range(0, 500):
        counts = grade_counts(n)
        assert sum(counts) == n
        for count, part in zip(counts, (1, 2, 7), strict=True):
            assert abs(count - n * part / 10) < 1


def test_grades_go_by_score_then_handled_then_id_and_say_what_separated_neighbours() -> None:
    candidates = [Candidate(f"e{i:02d}", score=Fraction(50), handled=10) for i in range(8)]
    candidates += [Candidate("top", Fraction(90), 3), Candidate("busy", Fraction(50), 40)]
    graded = assign_grades(candidates)
    assert [g.entity_id for g in graded[:3]] == ["top", "busy", "e00"]
    assert [g.grade for g in graded] == ["excellent", "good", "good"] + ["pass"] * 7
    assert graded[0].separated_from_next_by == "score"
    assert graded[1].separated_from_next_by == "handled"
    assert graded[2].separated_from_next_by == "entity_id"
    assert graded[-1].separated_from_next_by is None
    assert assign_grades(list(reversed(candidates))) == graded
