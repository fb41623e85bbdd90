"""Pure: the commendations a closing period announces (the seed's 优秀为民办实事案例 and
为民办实事能手).

- **Excellent cases**: orders whose case closed satisfied in the period, fastest against their
  own limit — completion time ÷ the time the category allowed (dispatch to complete-by, the
  latest one after extensions); the smaller, the better. Ties by case id, then order id.
- **Top performers**: per level, the entities ranked 1..N by `handled` in the period (ties at
  the N-th place are all commended; nobody with nothing handled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

from gridloop_common.contracts.scoring import ExcellentCase, TopPerformer
from gridloop_scoring.levels import LEVELS
from gridloop_scoring.orders import OrderRecord
from gridloop_scoring.ranking import rank
from gridloop_scoring.repository import HandledCount


def share_of_limit(order: OrderRecord) -> Fraction | None:
    """Completion time as a fraction of the time allowed; None when either is unknown."""
    if order.dispatched_at is None or order.completed_at is None or order.complete_by is None:
        return None
    allowed = order.complete_by - order.dispatched_at
    if allowed.total_seconds() <= 0:
        return None
    taken = order.completed_at - order.dispatched_at
    return Fraction(int(taken.total_seconds() * 1000), int(allowed.total_seconds() * 1000))


def excellent_cases(orders: Iterable[OrderRecord], limit: int) -> list[ExcellentCase]:
    best: dict[str, tuple[Fraction, str, OrderRecord]] = {}
    for order in orders:
        share = share_of_limit(order)
        if order.satisfied is not True or share is None or order.case_id is None:
            continue
        # A case with several orders (a joint action) is one case: its fastest order speaks.
        candidate = (share, order.order_id, order)
        current = best.get(order.case_id)
        if current is None or candidate[:2] < current[:2]:
            best[order.case_id] = candidate
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[0], item[1][1]))
    return [
        ExcellentCase(
            case_id=case_id,
            category_code=order.category_code or "",
            department=order.department or "",
            share_of_limit=round(float(share), 4),
        )
        for case_id, (share, _, order) in ordered[:limit]
    ]


def top_performers(
    handled_by_level: Mapping[str, Sequence[HandledCount]], limit: int
) -> list[TopPerformer]:
    performers: list[TopPerformer] = []
    for level in LEVELS:
        active = [c for c in handled_by_level.get(level, ()) if c.handled > 0]
        ranked = rank(active, value=lambda c: float(c.handled), key=lambda c: c.entity_id)
        performers += [
            TopPerformer(
                level=level,
                entity_id=entry.item.entity_id,
                metric="handled",
                value=entry.item.handled,
                rank=entry.rank,
            )
            for entry in ranked
            if entry.rank is not None and entry.rank <= limit
        ]
    return performers
