"""Pure ranking: order entities by a metric; equal values share a rank (1, 2, 2, 4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ranked(Generic[T]):
    # None for an item without a value (a rate without denominator): it is listed, not ranked.
    rank: int | None
    value: float | None
    item: T


def rank(
    items: Sequence[T],
    value: Callable[[T], float | None],
    key: Callable[[T], str],
    *,
    descending: bool = True,
) -> list[Ranked[T]]:
    """Standard competition ranking. Items without a value (no denominator) come last, unranked,
    ordered by key; ties keep a stable, documented order: by key."""
    valued = [(value(item), item) for item in items]
    present = [(v, item) for v, item in valued if v is not None]
    missing = sorted((item for v, item in valued if v is None), key=key)
    present.sort(key=lambda pair: (-pair[0] if descending else pair[0], key(pair[1])))
    ranked: list[Ranked[T]] = []
    previous: float | None = None
    current_rank = 0
    for position, (v, item) in enumerate(present, start=1):
        if previous is None or v != previous:
            current_rank = position
            previous = v
        ranked.append(Ranked(current_rank, v, item))
    ranked.extend(Ranked(None, None, item) for item in missing)
    return ranked
