"""Pure clock rules: deadlines, thresholds, colours, what case events do, what events say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridloop_sla_monitor.calendars import WALL, parse_calendars
from gridloop_sla_monitor.clocks import (
    ACCEPT,
    COMPLETE,
    ClockFacts,
    ClockPolicy,
    Colour,
    Extension,
    Lineage,
    Mark,
    Rejection,
    Settlement,
    TimerState,
    breach_event,
    colour,
    crossing,
    extension,
    fraction,
    in_time,
    judged_until,
    late_seconds,
    lineage,
    marks_for,
    met_event,
    next_mark,
    partition_of,
    passed_after_move,
    reject,
    settle,
    settled_late_event,
    timer_id,
    warning_event,
)

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
DUE = START + timedelta(hours=8)
FACTS = ClockFacts(
    order_id="O-1",
    case_id="C-1",
    department="city-mgmt",
    clock=ACCEPT,
    due_at=DUE,
    category_code="road-damage",
    grid_id="g-7",
    township_id="t-2",
    started_at=START,
    calendar="wall-clock",
    role="sole",
)
MARKS = marks_for(START, DUE, (0.5, 0.75), WALL)


def test_each_order_has_an_accept_timer_and_each_share_a_complete_timer() -> None:
    assert timer_id("O-1", ACCEPT) == "O-1:accept"
    assert timer_id("O-1", COMPLETE) == "O-1:complete"


def test_partitions_are_stable_and_spread() -> None:
    # Fixed values: replicas in other processes must agree on every timer's partition.
    assert [partition_of(key, 16) for key in ("O-1:accept", "O-2:accept", "O-1:complete")] == [
        7,
        4,
        14,
    ]
    spread = {partition_of(f"O-{n}:accept", 16) for n in range(200)}
    assert spread == set(range(16))


def test_acceptance_at_the_deadline_is_in_time() -> None:
    assert in_time(DUE, DUE)
    assert in_time(DUE - timedelta(hours=3), DUE)
    assert not in_time(DUE + timedelta(milliseconds=1), DUE)


def test_sub_millisecond_difference_is_ignored_as_the_database_cannot_store_it() -> None:
    assert in_time(DUE + timedelta(microseconds=400), DUE)


def test_late_seconds_count_from_the_deadline_and_are_never_negative() -> None:
    assert late_seconds(DUE, DUE + timedelta(minutes=2, milliseconds=500)) == 120.5
    assert late_seconds(DUE, DUE - timedelta(hours=1)) == 0.0


def test_marks_are_the_thresholds_of_the_window_then_the_deadline() -> None:
    assert (
        Mark(0.5, START + timedelta(hours=4)),
        Mark(0.75, START + timedelta(hours=6)),
        Mark(1.0, DUE),
    ) == MARKS
    assert MARKS[-1].is_deadline and not MARKS[0].is_deadline
    # Thresholds outside (0, 1) and repeats are dropped; the default has one warning.
    assert len(marks_for(START, DUE, (0.75, 0.75, 0.0, 1.0), WALL)) == 2


def test_working_hours_thresholds_fall_on_working_time() -> None:
    office = parse_calendars('{"city-mgmt": {}}').for_department("city-mgmt")
    shanghai = ZoneInfo("Asia/Shanghai")
    friday_four_pm = datetime(2026, 11, 6, 16, 0, tzinfo=shanghai).astimezone(UTC)
    due = office.add(friday_four_pm, timedelta(hours=8))  # Monday 15:00
    half, deadline = marks_for(friday_four_pm, due, (0.5,), office)
    # 4 working hours in: 1.5 h on Friday, 2.5 h on Monday morning.
    assert half.at == datetime(2026, 11, 9, 11, 0, tzinfo=shanghai)
    assert deadline.at == datetime(2026, 11, 9, 15, 0, tzinfo=shanghai)


def test_policy_counts_the_stamped_window_in_the_departments_working_time() -> None:
    policy = ClockPolicy(
        thresholds=(0.75,), calendars=parse_calendars('{"city-mgmt": {"hours": ["08:00-16:00"]}}')
    )
    shanghai = ZoneInfo("Asia/Shanghai")
    saturday = datetime(2026, 11, 7, 10, 0, tzinfo=shanghai).astimezone(UTC)
    started = policy.start(
        ACCEPT,
        department="city-mgmt",
        category_code="road-damage",
        started_at=saturday,
        stamped=saturday + timedelta(hours=8),
    )
    assert started.calendar == "working-hours:city-mgmt"
    assert started.due_at == datetime(2026, 11, 9, 16, 0, tzinfo=shanghai)
    # Another department keeps wall-clock time: dispatch's stamp as it is.
    other = policy.start(
        ACCEPT,
        department="water",
        category_code=None,
        started_at=saturday,
        stamped=saturday + timedelta(hours=8),
    )
    assert (other.calendar, other.due_at) == ("wall-clock", saturday + timedelta(hours=8))


def test_an_unusable_stamp_falls_back_to_the_configured_window_or_the_category_limit() -> None:
    policy = ClockPolicy(accept_window=timedelta(hours=8))
    accept = policy.start(
        ACCEPT, department="water", category_code=None, started_at=START, stamped=START
    )
    assert accept.due_at == START + timedelta(hours=8)
    complete = policy.start(
        COMPLETE,
        department="city-mgmt",
        category_code="road-damage",
        started_at=START,
        stamped=START - timedelta(hours=1),
    )
    assert complete.due_at == START + timedelta(hours=72)


@pytest.mark.parametrize(
    ("passed", "now", "expected"),
    [
        (0, START + timedelta(hours=3), None),
        (0, START + timedelta(hours=4), (1, 0.5, ())),
        (1, START + timedelta(hours=5), None),
        (1, START + timedelta(hours=6, seconds=1), (2, 0.75, ())),
        (2, DUE, (3, 1.0, ())),
        # A scan after a long pause announces only the most severe mark; the rest are skipped.
        (0, DUE + timedelta(hours=1), (3, 1.0, (0.5, 0.75))),
        (0, START + timedelta(hours=7), (2, 0.75, (0.5,))),
        (3, DUE + timedelta(hours=1), None),
    ],
)
def test_a_scan_announces_the_most_severe_mark_passed(
    passed: int, now: datetime, expected: tuple[int, float, tuple[float, ...]] | None
) -> None:
    found = crossing(MARKS, passed, now)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert (
        found.passed,
        found.announce.threshold,
        tuple(m.threshold for m in found.skipped),
    ) == expected


def test_the_next_mark_is_none_once_the_deadline_is_announced() -> None:
    assert next_mark(MARKS, 0) == MARKS[0]
    assert next_mark(MARKS, 3) is None


@pytest.mark.parametrize(
    ("now", "state", "expected"),
    [
        (START + timedelta(hours=1), TimerState.RUNNING, Colour.GREEN),
        (START + timedelta(hours=4), TimerState.RUNNING, Colour.YELLOW),  # the first threshold
        (DUE - timedelta(seconds=1), TimerState.RUNNING, Colour.YELLOW),
        (DUE, TimerState.RUNNING, Colour.RED),
        (START, TimerState.BREACHED, Colour.RED),
    ],
)
def test_colour_is_green_then_yellow_from_the_first_threshold_then_red(
    now: datetime, state: TimerState, expected: Colour
) -> None:
    assert colour(MARKS, state, now) is expected


def test_fraction_counts_in_the_calendars_time() -> None:
    assert fraction(START, DUE, START + timedelta(hours=6), WALL) == 0.75
    assert fraction(START, DUE, DUE + timedelta(hours=8), WALL) == 2.0
    assert fraction(START, START, START, WALL) == 1.0


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        (TimerState.RUNNING, DUE - timedelta(minutes=1), Settlement.MET),
        (TimerState.RUNNING, DUE, Settlement.MET),
        (TimerState.RUNNING, DUE + timedelta(seconds=1), Settlement.BREACHED_AND_LATE),
        (TimerState.BREACHED, DUE + timedelta(hours=2), Settlement.LATE),
        (TimerState.MET, DUE - timedelta(minutes=1), Settlement.ALREADY_SETTLED),
        (TimerState.LATE, DUE + timedelta(hours=2), Settlement.ALREADY_SETTLED),
        (TimerState.STOPPED, DUE - timedelta(minutes=1), Settlement.ALREADY_SETTLED),
    ],
)
def test_what_an_acceptance_or_completion_settles(
    state: TimerState, at: datetime, expected: Settlement
) -> None:
    assert settle(state, at, DUE) is expected


@pytest.mark.parametrize(
    ("state", "at", "expected"),
    [
        (TimerState.RUNNING, DUE - timedelta(hours=1), Rejection.STOPPED_IN_TIME),
        (TimerState.RUNNING, DUE + timedelta(hours=1), Rejection.BREACHED),
        (TimerState.BREACHED, DUE + timedelta(hours=1), Rejection.STOPPED_AFTER_BREACH),
        (TimerState.STOPPED, DUE, Rejection.ALREADY_SETTLED),
        (TimerState.MET, DUE, Rejection.ALREADY_SETTLED),
    ],
)
def test_a_rejection_stops_the_accept_clock_and_keeps_a_breach_on_record(
    state: TimerState, at: datetime, expected: Rejection
) -> None:
    assert reject(state, at, DUE) is expected


@pytest.mark.parametrize(
    ("reason", "role", "previous", "expected"),
    [
        ("routed", "sole", None, Lineage.CASE_MAIN),
        ("routed", None, None, Lineage.CASE_MAIN),
        ("redispatch", "sole", "O-1", Lineage.PREVIOUS_ORDER),
        ("fallback", "cooperating", "O-2", Lineage.PREVIOUS_ORDER),
        ("joint-action", "lead", None, Lineage.CASE_MAIN),
        ("joint-action", "cooperating", None, Lineage.NEW),
        ("reopened", "sole", "O-1", Lineage.NEW),
    ],
)
def test_the_complete_clock_belongs_to_the_share_and_survives_a_redispatch(
    reason: str, role: str | None, previous: str | None, expected: Lineage
) -> None:
    assert lineage(reason, role, previous) is expected


@pytest.mark.parametrize(
    ("state", "last", "expected"),
    [
        (TimerState.RUNNING, None, Extension.MOVED),  # approved at the deadline: still in time
        (TimerState.RUNNING, START - timedelta(hours=1), Extension.MOVED),
        (TimerState.RUNNING, START, Extension.IGNORED),  # the same approval again
        (TimerState.RUNNING, START + timedelta(hours=1), Extension.IGNORED),  # an older one
        (TimerState.BREACHED, None, Extension.RECORDED_AFTER_BREACH),
        (TimerState.MET, None, Extension.IGNORED),
        (TimerState.STOPPED, None, Extension.IGNORED),
    ],
)
def test_an_approved_extension_moves_a_running_deadline_only(
    state: TimerState, last: datetime | None, expected: Extension
) -> None:
    assert extension(state, START, last, due_at=START) is expected


def test_an_approval_dated_after_the_deadline_does_not_move_it_even_before_the_scan_saw_it() -> (
    None
):
    # Handled late (an outage held the message), the clock still running: the breach happened.
    late = START + timedelta(seconds=7)
    assert (
        extension(TimerState.RUNNING, late, None, due_at=START) is Extension.RECORDED_AFTER_BREACH
    )
    assert extension(TimerState.RUNNING, START, None, due_at=late) is Extension.MOVED


def test_after_a_move_announced_thresholds_still_behind_stay_announced() -> None:
    longer = marks_for(START, START + timedelta(hours=16), (0.5, 0.75), WALL)
    now = START + timedelta(hours=9)
    # The 0.5 mark (8 h) is behind and was announced: it stays; 0.75 (12 h) is ahead again.
    assert passed_after_move(longer, 2, now) == 1
    # Nothing announced yet: the 0.5 mark behind is still to be announced by the scan.
    assert passed_after_move(longer, 0, now) == 0
    # The deadline itself is never taken as passed: the scan announces it.
    assert passed_after_move(MARKS, 3, DUE + timedelta(hours=1)) == 2


def test_breach_event_names_the_clock_and_the_department() -> None:
    fired = DUE + timedelta(seconds=90)
    event = breach_event(FACTS, fired_at=fired, late_at=fired)
    assert event.routing_key() == "sla.breached.accept.city-mgmt"
    assert event.deadline == DUE
    assert event.fired_at == fired
    assert event.late_seconds == 90.0
    assert (event.case_id, event.grid_id, event.township_id, event.category_code) == (
        "C-1",
        "g-7",
        "t-2",
        "road-damage",
    )
    assert (event.started_at, event.calendar, event.role) == (START, "wall-clock", "sole")


def test_breach_found_by_a_late_reply_is_as_late_as_the_reply() -> None:
    event = breach_event(
        FACTS, fired_at=DUE + timedelta(hours=1), late_at=DUE + timedelta(minutes=10)
    )
    assert event.late_seconds == 600.0


def test_warning_event_says_which_threshold_and_how_much_time_is_left() -> None:
    fired = MARKS[1].at + timedelta(milliseconds=250)
    event = warning_event(FACTS, MARKS[1], fired)
    assert event.routing_key() == "sla.warning.accept.city-mgmt"
    assert event.threshold == 0.75
    assert event.threshold_at == MARKS[1].at
    assert event.late_seconds == 0.25
    assert event.remaining_seconds == pytest.approx(2 * 3600 - 0.25)
    assert event.deadline == DUE


def test_met_event_carries_the_acceptance_time() -> None:
    accepted = DUE - timedelta(hours=5)
    event = met_event(FACTS, accepted)
    assert event.routing_key() == "sla.met.accept.city-mgmt"
    assert event.met_at == accepted
    assert event.deadline == DUE


def test_a_late_acceptance_after_a_breach_is_recorded_as_settled_late() -> None:
    breached = DUE + timedelta(seconds=1)
    accepted = DUE + timedelta(hours=3)
    event = settled_late_event(FACTS, accepted, breached_at=breached)
    assert event.routing_key() == "sla.settled_late.accept.city-mgmt"
    assert event.late_seconds == 3 * 3600
    assert event.breached_at == breached
    assert event.settled_at == accepted


# --- judging a deadline ----------------------------------------------------------------------

GRACE = timedelta(seconds=5)
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_nothing_is_judged_before_the_consumer_has_been_caught_up_for_the_grace() -> None:
    assert judged_until(None, T0, T0, True, GRACE) is None
    assert judged_until(None, T0 + timedelta(seconds=4), T0, True, GRACE) is None
    assert judged_until(None, T0 + GRACE, T0, True, GRACE) == T0


def test_the_judged_moment_trails_now_by_the_grace_while_caught_up() -> None:
    now = T0 + timedelta(minutes=1)
    assert judged_until(T0, now, T0, True, GRACE) == now - GRACE


def test_it_stands_still_while_the_broker_is_away_or_messages_wait() -> None:
    now = T0 + timedelta(minutes=1)
    assert judged_until(T0, now, None, False, GRACE) == T0  # not consuming
    assert judged_until(T0, now, T0, False, GRACE) == T0  # a backlog waits
    # Reconnected a moment ago: what others kept while it was away may still be arriving.
    assert judged_until(T0, now, now - timedelta(seconds=1), True, GRACE) == T0


def test_it_never_moves_back() -> None:
    later = T0 + timedelta(minutes=5)
    assert judged_until(later, T0 + timedelta(minutes=1), T0, True, GRACE) == later


def test_without_a_grace_a_caught_up_consumer_judges_up_to_now() -> None:
    assert judged_until(None, T0, T0, True, timedelta(0)) == T0


def test_never_past_what_dispatch_has_published() -> None:
    now = T0 + timedelta(minutes=1)
    # Dispatch still holds an event stored at T0 + 10 s: nothing after it is judged.
    held = T0 + timedelta(seconds=10)
    assert judged_until(T0, now, T0, True, GRACE, dispatch_published_until=held) == held
    # Its watermark beyond now - grace changes nothing.
    assert judged_until(T0, now, T0, True, GRACE, dispatch_published_until=now) == now - GRACE
