"""Pure quarterly grading: excellent : good : pass = 1 : 2 : 7 by largest remainder (Hamilton).

The seed grades grid work quarterly in the ratio 1 : 2 : 7. For n entities the quotas are
n/10, 2n/10 and 7n/10; each grade first gets the whole part of its quota, then the seats left
over go one each to the grades with the largest fractional remainders. Equal remainders go to
the LOWER grade first: pay depends on the grade, so a rounding tie never inflates excellence.
Entities are ordered by composite score (higher first); equal scores are ordered by handled
cases (more first), then by entity id, and the answer says which key separated neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

GRADES = ("excellent", "good", "pass")
RATIO = (1, 2, 7)


def grade_counts(n: int, ratio: Sequence[int] = RATIO) -> tuple[int, ...]:
    """Seats per grade for n entities, summing to n exactly."""
    if n < 0:
        raise ValueError("n must not be negative")
    total = sum(ratio)
    quotas = [Fraction(n * part, total) for part in ratio]
    seats = [int(q) for q in quotas]
    left = n - sum(seats)
    # Largest remainder first; on equal remainders, the lower grade (larger index) first.
    order = sorted(range(len(ratio)), key=lambda i: (-(quotas[i] - seats[i]), -i))
    for i in order[:left]:
        seats[i] += 1
    return tuple(seats)


@dataclass(frozen=True)
class Candidate:
    entity_id: str
    # Exact, so that equal work ties exactly (see composite.py).
    score: Fraction
    handled: int


@dataclass(frozen=True)
class Graded:
    entity_id: str
    position: int
    grade: str
    score: Fraction
    handled: int
    # Why this entity stands above the next one: "score", "handled" or "entity_id".
    separated_from_next_by: str | None


def assign_grades(candidates: Sequence[Candidate]) -> list[Graded]:
    ordered = sorted(candidates, key=lambda c: (-c.score, -c.handled, c.entity_id))
    counts = grade_counts(len(ordered))
    grades = [grade for grade, count in zip(GRADES, counts, strict=True) for _ in range(count)]
    graded: list[Graded] = []
    for position, (candidate, grade) in enumerate(zip(ordered, grades, strict=True), start=1):
        following = ordered[position] if position < len(ordered) else None
        graded.append(
            Graded(
                entity_id=candidate.entity_id,
                position=position,
                grade=grade,
                score=candidate.score,
                handled=candidate.handled,
                separated_from_next_by=_separator(candidate, following),
            )
        )
    return graded


def _separator(one: Candidate, following: Candidate | None) -> str | None:
    if following is None:
        return None
    if one.score != following.score:
        return "score"
    if one.handled != following.handled:
        return "handled"
    return "entity_id"
