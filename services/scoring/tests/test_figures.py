"""Orders folded from their facts in any order; a month's figures; months adding up exactly."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from gridloop_scoring.facts import Fact, FactKind
from gridloop_scoring.figures import Figures, merge, month_figures
from gridloop_scoring.orders import fold_order, fold_orders

DISPATCHED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def fact(kind: FactKind, at: datetime, event_id: str, **details: Any) -> Fact:
    return Fact(
        event_id=event_id,
        kind=kind,
        occurred_at=at,
        received_at=at,
        order_id=details.pop("order_id", "O-1"),
        case_id="C-1",
        department="city-mgmt",
        grid_id="g-1",
        village_id="v-1",
        township_id="t-1",
        category_code=None,
        **details,
    )


def life(order_id: str = "O-1", *, accept_after: timedelta = HOUR) -> list[Fact]:
    """Dispatched, accepted (by Wang), extended, completed within the extension, closed happy."""
    return [
        fact(
            "dispatched",
            DISPATCHED,
            f"{order_id}-d",
            order_id=order_id,
            accept_by=DISPATCHED + 8 * HOUR,
            complete_by=DISPATCHED + 24 * HOUR,
        ),
        fact(
            "accepted",
            DISPATCHED + accept_after,
            f"{order_id}-a",
            order_id=order_id,
            handler="Wang",
        ),
        fact(
            "extended",
            DISPATCHED + 20 * HOUR,
            f"{order_id}-x",
            order_id=order_id,
            complete_by=DISPATCHED + 48 * HOUR,
        ),
        fact("completed", DISPATCHED + 30 * HOUR, f"{order_id}-c", order_id=order_id),
        fact("closed", DISPATCHED + 40 * HOUR, f"{order_id}-z", order_id=order_id, satisfied=True),
    ]


def test_an_order_folds_to_the_same_record_whatever_order_its_facts_arrive_in() -> None:
    facts = life()
    records = {fold_order("O-1", list(p)) for p in itertools.permutations(facts)}
    assert len(records) == 1
    record = records.pop()
    assert record.complete_by == DISPATCHED + 48 * HOUR  # the extension's, not the dispatch's
    assert record.accepted_on_time and record.completed_on_time
    assert record.satisfied is True
    assert record.handlers == {"Wang"}
    assert record.entities() == [
        "department:city-mgmt",
        "handler:city-mgmt:Wang",
        "grid:g-1",
        "village:v-1",
        "township:t-1",
    ]


def test_sla_monitors_verdict_overrides_the_wall_clock_comparison() -> None:
    # Accepted within 8 wall-clock hours, but sla-monitor (working-hours calendar) says breached.
    breached = fact("sla_breached", DISPATCHED + 7 * HOUR, "b", clock="accept")
    assert not fold_order("O-1", [*life(), breached]).accepted_on_time
    # Accepted after the wall-clock accept-by, but within working hours: met.
    late = life(accept_after=10 * HOUR)
    assert not fold_order("O-1", late).accepted_on_time
    met = fact("sla_met", DISPATCHED + 10 * HOUR, "m", clock="accept")
    assert fold_order("O-1", [*late, met]).accepted_on_time


def test_a_month_counts_what_happened_in_it_and_rates_the_orders_dispatched_in_it() -> None:
    orders = fold_orders(
        [
            *life("O-1"),
            *life("O-2", accept_after=9 * HOUR),  # accepted late
            fact("dispatched", DISPATCHED, "O-3-d", order_id="O-3", accept_by=DISPATCHED),
        ]
    ).values()
    figures = month_figures(["dispatched"] * 3 + ["completed", "sla_breached", "reopened"], orders)
    assert dict(figures.counts) == {
        "reported": 0,
        "dispatched": 3,
        "handled": 1,
        "reopens": 1,
        "breaches": 1,
    }
    assert figures.ratios["acceptance_rate"] == (2, 3)
    assert figures.ratios["on_time_acceptance_rate"] == (1, 3)
    assert figures.ratios["completion_rate"] == (2, 2)
    assert figures.ratios["resolution_rate"] == (2, 2)
    assert figures.value("acceptance_rate") == 2 / 3
    assert figures.value("median_accept_seconds") == (3600 + 9 * 3600) / 2
    assert figures.value("median_complete_seconds") == 30 * 3600.0


def test_a_rate_without_denominator_and_a_median_without_orders_have_no_value() -> None:
    empty = month_figures([], [])
    assert empty.value("acceptance_rate") is None
    assert empty.value("median_accept_seconds") is None
    assert empty.value("handled") == 0


def test_months_merge_into_exactly_what_their_union_gives() -> None:
    rng = random.Random(7)
    months: list[Figures] = []
    all_kinds: list[str] = []
    all_orders = []
    for month in range(3):
        kinds = rng.choices(["dispatched", "completed", "reported", "sla_breached"], k=20)
        orders = [
            fold_order(
                f"O-{month}-{n}", life(f"O-{month}-{n}", accept_after=rng.randint(1, 20) * HOUR)
            )
            for n in range(rng.randint(1, 6))
        ]
        months.append(month_figures(kinds, orders))
        all_kinds += kinds
        all_orders += orders
    assert merge(months) == month_figures(all_kinds, all_orders)
