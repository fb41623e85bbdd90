"""The projection's fold: a case's timeline → what the console shows, whatever the arrival order."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    CaseReopened,
    CaseResolvedLocally,
    SlaBreached,
    SlaWarning,
)
from gridloop_common.contracts.sla import ClockName
from gridloop_console.case_view import Colour, RunningClock, Status, fold, summary
from gridloop_console.timeline import Entry, entry_of, merged

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CASE = "C-1"
FACTS = {"case_id": CASE, "category_code": "road-damage", "grid_id": "grd-xijin-001-01"}


def dispatched(
    order: str = "O-1", at: datetime = T0, department: str = "city-mgmt", **extra: Any
) -> Entry:
    return entry_of(
        CaseDispatched(
            **FACTS,
            order_id=order,
            department=department,
            dispatched_at=at,
            accept_by=at + 8 * HOUR,
            complete_by=at + 72 * HOUR,
            **extra,
        ),
        f"dispatched-{order}",
    )


def accepted(order: str = "O-1", at: datetime = T0 + HOUR) -> Entry:
    event = CaseAccepted(**FACTS, order_id=order, department="city-mgmt", accepted_at=at)
    return entry_of(event, f"accepted-{order}")


def completed(order: str = "O-1", at: datetime = T0 + 5 * HOUR) -> Entry:
    event = CaseCompleted(**FACTS, order_id=order, department="city-mgmt", completed_at=at)
    return entry_of(event, f"completed-{order}")


def closed(at: datetime = T0 + 6 * HOUR, satisfied: bool = True) -> Entry:
    event = CaseClosed(
        **FACTS, order_id="O-1", department="city-mgmt", closed_at=at, satisfied=satisfied
    )
    return entry_of(event, "closed")


def breached(
    order: str = "O-1", clock: ClockName = "accept", at: datetime = T0 + 9 * HOUR
) -> Entry:
    event = SlaBreached(
        order_id=order,
        case_id=CASE,
        department="city-mgmt",
        clock=clock,
        deadline=T0 + 8 * HOUR,
        fired_at=at,
        late_seconds=3600,
    )
    return entry_of(event, f"breached-{order}-{clock}")


def test_a_whole_life_reads_as_the_seed_tells_it() -> None:
    view = fold(CASE, [dispatched(), accepted(), completed(), closed()])

    assert view.status is Status.CLOSED
    assert view.accepted_in_time is True
    assert view.completed_in_time is True
    assert view.satisfied is True
    assert view.open_orders() == []
    assert summary(view)["open"] is False


def test_the_order_of_arrival_changes_nothing() -> None:
    entries = [dispatched(), accepted(), completed(), closed()]
    expected = summary(fold(CASE, entries))
    for order in itertools.permutations(entries):
        assert summary(fold(CASE, list(order))) == expected


def test_a_redelivered_entry_is_not_added_twice() -> None:
    first = merged([], dispatched())
    assert first is not None
    assert merged(first, dispatched()) is None


def test_merging_in_any_order_gives_one_timeline() -> None:
    entries = [dispatched(), accepted(), breached(clock="complete"), completed(), closed()]
    rng = random.Random(7)
    for _ in range(20):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        timeline: list[Entry] = []
        for entry in shuffled + shuffled:  # every one delivered twice
            timeline = merged(timeline, entry) or timeline
        assert [e.event_id for e in timeline] == [
            e.event_id for e in sorted(entries, key=Entry.sort_key)
        ]


def test_an_order_event_that_overtook_its_dispatch_is_folded_once_the_dispatch_is_in() -> None:
    assert fold(CASE, [accepted()]).status is Status.REPORTED
    view = fold(CASE, [accepted(), dispatched()])
    assert view.status is Status.IN_PROGRESS
    assert view.orders["O-1"].accepted_at == T0 + HOUR


def test_an_acceptance_after_eight_hours_is_not_in_time() -> None:
    view = fold(CASE, [dispatched(), accepted(at=T0 + 9 * HOUR)])
    assert view.accepted_in_time is False


@pytest.mark.parametrize(
    ("hours", "colour"), [(1, Colour.GREEN), (6.5, Colour.YELLOW), (8.5, Colour.RED)]
)
def test_an_unaccepted_order_turns_yellow_at_three_quarters_and_red_at_the_deadline(
    hours: float, colour: Colour
) -> None:
    view = fold(CASE, [dispatched()])
    assert view.colour(T0 + timedelta(hours=hours)) is colour


def test_what_sla_monitor_announced_colours_an_order_before_the_clock_says_so() -> None:
    # A working-hours calendar may put the deadline earlier than wall-clock arithmetic.
    warning = SlaWarning(
        order_id="O-1",
        case_id=CASE,
        department="city-mgmt",
        clock="accept",
        deadline=T0 + 8 * HOUR,
        fired_at=T0 + HOUR,
        threshold=0.75,
    )
    view = fold(CASE, [dispatched(), entry_of(warning, "w")])
    assert view.colour(T0 + HOUR) is Colour.YELLOW
    view = fold(CASE, [dispatched(), breached(at=T0 + 2 * HOUR)])
    assert view.colour(T0 + 2 * HOUR) is Colour.RED


def test_an_accepted_order_runs_only_its_completion_clock() -> None:
    view = fold(CASE, [dispatched(), accepted()])
    [clock] = view.orders["O-1"].running_clocks()
    assert clock.clock == "complete"
    assert view.colour(T0 + 9 * HOUR) is Colour.GREEN  # the accept deadline no longer counts


def test_an_extension_moves_the_completion_deadline() -> None:
    extension = CaseExtended(
        **FACTS,
        order_id="O-1",
        department="city-mgmt",
        extended_at=T0 + 2 * HOUR,
        previous_complete_by=T0 + 72 * HOUR,
        complete_by=T0 + 120 * HOUR,
    )
    view = fold(CASE, [dispatched(), accepted(), entry_of(extension, "x")])
    assert view.orders["O-1"].complete_by == T0 + 120 * HOUR
    assert summary(view)["next_deadline"] == T0 + 120 * HOUR


def test_a_rejection_leaves_the_case_to_the_center_until_it_is_routed_again() -> None:
    rejection = CaseRejected(
        **FACTS,
        order_id="O-1",
        department="city-mgmt",
        rejected_at=T0 + HOUR,
        reason_code="not-ours",
    )
    view = fold(CASE, [dispatched(), entry_of(rejection, "r")])
    assert view.status is Status.REJECTED
    view = fold(
        CASE,
        [
            dispatched(),
            entry_of(rejection, "r"),
            dispatched("O-2", T0 + 2 * HOUR, "water", previous_order_id="O-1"),
        ],
    )
    assert view.status is Status.DISPATCHED
    assert summary(view)["departments"] == ["water"]


def test_a_reopened_case_is_open_again_until_its_new_order_is_completed() -> None:
    reopen = CaseReopened(
        **FACTS,
        order_id="O-2",
        department="city-mgmt",
        reopened_at=T0 + 6 * HOUR,
        previous_order_id="O-1",
        reopens=1,
    )
    entries = [
        dispatched(),
        accepted(),
        completed(),
        entry_of(reopen, "reopen"),
        dispatched("O-2", T0 + 6 * HOUR, dispatch_reason="reopened"),
    ]
    view = fold(CASE, entries)
    assert view.status is Status.DISPATCHED
    assert view.reopens == 1
    assert view.completed_at is None
    view = fold(CASE, [*entries, completed("O-2", T0 + 7 * HOUR)])
    assert view.status is Status.COMPLETED


def test_a_case_resolved_in_the_village_has_no_clocks() -> None:
    resolved = CaseResolvedLocally(
        **FACTS, resolved_at=T0, resolution="调解成功", township_id="xijin"
    )
    view = fold(CASE, [entry_of(resolved, "local")])
    assert view.status is Status.RESOLVED_LOCALLY
    assert view.colour(T0) is None


def test_entries_survive_a_round_trip_through_the_database_shape() -> None:
    entry = breached()
    assert Entry.from_document(entry.to_document()) == entry
    clock = RunningClock("accept", T0, T0 + 8 * HOUR, "warning")
    assert RunningClock.from_document(clock.to_document()) == clock
