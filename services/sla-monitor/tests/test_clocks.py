"""The pure clock rules: deadlines, lateness, what an acceptance settles, the events' content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_sla_monitor.clocks import (
    ACCEPT,
    ClockFacts,
    Settlement,
    TimerState,
    accepted_in_time,
    breach_event,
    late_seconds,
    met_event,
    settle_acceptance,
    timer_id,
)

DUE = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
FACTS = ClockFacts(
    order_id="O-1",
    case_id="C-1",
    department="city-mgmt",
    clock=ACCEPT,
    due_at=DUE,
    category_code="road-damage",
    grid_id="g-7",
    township_id="t-2",
)


def test_each_order_has_one_accept_timer_id() -> None:
    assert timer_id("O-1", "accept") == "O-1:accept"
    assert timer_id("O-1", "complete") != timer_id("O-1", "accept")


def test_acceptance_at_the_deadline_is_in_time() -> None:
    assert accepted_in_time(DUE, DUE)
    assert accepted_in_time(DUE - timedelta(hours=3), DUE)
    assert not accepted_in_time(DUE + timedelta(milliseconds=1), DUE)


def test_sub_millisecond_difference_is_ignored_as_the_database_cannot_store_it() -> None:
    assert accepted_in_time(DUE + timedelta(microseconds=400), DUE)


def test_late_seconds_count_from_the_deadline_and_are_never_negative() -> None:
    assert late_seconds(DUE, DUE + timedelta(minutes=2, milliseconds=500)) == 120.5
    assert late_seconds(DUE, DUE - timedelta(hours=1)) == 0.0


@pytest.mark.parametrize(
    ("state", "accepted_at", "expected"),
    [
        (TimerState.RUNNING, DUE - timedelta(minutes=1), Settlement.MET),
        (TimerState.RUNNING, DUE, Settlement.MET),
        (TimerState.RUNNING, DUE + timedelta(seconds=1), Settlement.BREACHED),
        (TimerState.BREACHED, DUE + timedelta(hours=2), Settlement.LATE_AFTER_BREACH),
        (TimerState.MET, DUE - timedelta(minutes=1), Settlement.ALREADY_SETTLED),
        (TimerState.STOPPED, DUE - timedelta(minutes=1), Settlement.ALREADY_SETTLED),
    ],
)
def test_what_an_acceptance_settles(
    state: TimerState, accepted_at: datetime, expected: Settlement
) -> None:
    assert settle_acceptance(state, accepted_at, DUE) is expected


def test_breach_event_names_the_clock_and_the_department() -> None:
    fired = DUE + timedelta(seconds=90)
    event = breach_event(FACTS, fired_at=fired, late_at=fired)
    assert event.routing_key() == "sla.breached.accept.city-mgmt"
    assert event.deadline == DUE
    assert event.fired_at == fired
    assert event.late_seconds == 90.0
    assert (event.case_id, event.grid_id, event.township_id) == ("C-1", "g-7", "t-2")


def test_breach_found_by_a_late_acceptance_is_as_late_as_the_acceptance() -> None:
    event = breach_event(
        FACTS, fired_at=DUE + timedelta(hours=1), late_at=DUE + timedelta(minutes=10)
    )
    assert event.late_seconds == 600.0


def test_met_event_carries_the_acceptance_time() -> None:
    accepted = DUE - timedelta(hours=5)
    event = met_event(FACTS, accepted)
    assert event.routing_key() == "sla.met.accept.city-mgmt"
    assert event.met_at == accepted
    assert event.deadline == DUE
