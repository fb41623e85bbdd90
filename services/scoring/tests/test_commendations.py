"""Excellent cases: closed satisfied, fastest against their own limit; top performers by handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gridloop_scoring.commendations import excellent_cases, top_performers
from gridloop_scoring.facts import Fact, FactKind
from gridloop_scoring.orders import fold_order
from gridloop_scoring.repository import HandledCount

START = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def closed_order(
    order_id: str, case_id: str, took: timedelta, allowed: timedelta, *, satisfied: bool = True
) -> Any:
    def fact(kind: FactKind, at: datetime, **details: Any) -> Fact:
        return Fact(
            event_id=f"{order_id}-{kind}",
            kind=kind,
            case_id=case_id,
            order_id=order_id,
            department="water",
            grid_id=None,
            village_id=None,
            township_id=None,
            category_code="leak",
            occurred_at=at,
            received_at=at,
            **details,
        )

    facts = [
        fact("dispatched", START, complete_by=START + allowed),
        fact("completed", START + took),
        fact("closed", START + took + timedelta(hours=1), satisfied=satisfied),
    ]
    return fold_order(order_id, facts)


def test_the_fastest_against_its_own_limit_comes_first_and_unhappy_cases_never() -> None:
    day = timedelta(days=1)
    orders = [
        closed_order("O-1", "C-1", took=12 * timedelta(hours=1), allowed=day),  # half its limit
        closed_order("O-2", "C-2", took=day, allowed=10 * day),  # a tenth: the best
        closed_order("O-3", "C-3", took=timedelta(hours=1), allowed=day, satisfied=False),
    ]
    cases = excellent_cases(orders, limit=10)
    assert [c.case_id for c in cases] == ["C-2", "C-1"]
    assert cases[0].share_of_limit == 0.1
    assert excellent_cases(orders, limit=1)[0].case_id == "C-2"


def test_top_performers_share_the_last_place_and_nobody_idle_is_commended() -> None:
    counts = [
        HandledCount("a", 9),
        HandledCount("b", 7),
        HandledCount("c", 7),
        HandledCount("d", 0),
    ]
    performers = top_performers({"department": counts}, limit=2)
    assert [(p.entity_id, p.rank, p.value) for p in performers] == [
        ("a", 1, 9),
        ("b", 2, 7),
        ("c", 2, 7),
    ]
