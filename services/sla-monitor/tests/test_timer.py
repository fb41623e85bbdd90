"""What each transition writes to a timer, and the events it causes: pure, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gridloop_common.contracts import SlaBreached, SlaMet, SlaSettledLate, SlaWarning
from gridloop_sla_monitor.calendars import WALL
from gridloop_sla_monitor.clocks import (
    ACCEPT,
    COMPLETE,
    ClockPolicy,
    Extension,
    Rejection,
    Settlement,
    TimerState,
    Verdict,
    marks_for,
)
from gridloop_sla_monitor.repository import update_document
from gridloop_sla_monitor.timer import (
    MarkRecord,
    Stop,
    Timer,
    VerdictStamp,
    claimed,
    extended,
    rejected,
    settled,
)

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
DUE = START + timedelta(hours=8)
HOUR = timedelta(hours=1)


def running(clock: str = ACCEPT, *, due: datetime = DUE, passed: int = 0) -> Timer:
    marks = marks_for(START, due, (0.5, 0.75), WALL)
    return Timer(
        timer=f"O-1:{clock}",
        clock=ACCEPT if clock == ACCEPT else COMPLETE,
        state=TimerState.RUNNING,
        order_id="O-1",
        case_id="C-1",
        department="city-mgmt",
        due_at=due,
        partition=3,
        marks=tuple(MarkRecord(m.threshold, m.at) for m in marks),
        passed=passed,
        next_at=marks[passed].at,
        calendar="wall-clock",
        started_at=START,
        category_code="road-damage",
        role="sole",
    )


def test_a_reply_in_time_meets_the_clock_and_stops_its_scan() -> None:
    at = START + 2 * HOUR
    change, events = settled(running(), Settlement.MET, at, now=at + timedelta(seconds=1))
    assert change.state is TimerState.MET
    assert change.settled_at == at
    assert change.verdict == VerdictStamp(Verdict.MET, at, "city-mgmt")
    assert (change.reschedule, change.next_at) == (True, None)
    [met] = events
    assert isinstance(met, SlaMet)
    assert (met.order_id, met.met_at) == ("O-1", at)


def test_a_late_reply_before_the_scan_breaches_and_settles_late_at_once() -> None:
    at, now = DUE + HOUR, DUE + HOUR + timedelta(seconds=2)
    change, events = settled(running(), Settlement.BREACHED_AND_LATE, at, now)
    assert change.state is TimerState.LATE
    assert change.fired_at == now
    assert change.late_seconds == 3600.0
    # Late is counted where the deadline fell, not where the reply did.
    assert change.verdict == VerdictStamp(Verdict.LATE, DUE, "city-mgmt")
    breach, late = events
    assert isinstance(breach, SlaBreached) and breach.late_seconds == 3600.0
    assert isinstance(late, SlaSettledLate) and late.breached_at == now


def test_a_reply_after_an_announced_breach_only_settles_late() -> None:
    fired = DUE + timedelta(seconds=5)
    breached = replace(running(), state=TimerState.BREACHED, fired_at=fired)
    at = DUE + 2 * HOUR
    change, events = settled(breached, Settlement.LATE, at, now=at)
    assert change.state is TimerState.LATE
    assert change.settled_late_seconds == 7200.0
    # The verdict was given by the breach; it is not counted twice.
    assert change.verdict is None and change.fired_at is None
    [late] = events
    assert isinstance(late, SlaSettledLate) and late.breached_at == fired


def test_a_rejection_in_time_stops_the_clock_without_a_verdict() -> None:
    at = START + HOUR
    change, events = rejected(running(), Rejection.STOPPED_IN_TIME, at, "not-ours", now=at)
    assert change.state is TimerState.STOPPED
    assert change.stop == Stop("rejected", at, rejected_at=at, reason_code="not-ours")
    assert change.verdict is None
    assert events == []


def test_a_rejection_after_the_deadline_is_a_breach() -> None:
    at = DUE + HOUR
    change, events = rejected(running(), Rejection.BREACHED, at, "not-ours", now=at)
    assert change.state is TimerState.STOPPED
    assert change.verdict == VerdictStamp(Verdict.LATE, DUE, "city-mgmt")
    [breach] = events
    assert isinstance(breach, SlaBreached) and breach.late_seconds == 3600.0


def test_a_moved_deadline_recomputes_the_marks_and_keeps_only_those_still_behind() -> None:
    # Both warnings (12:00 and 14:00) announced; at 13:00 the deadline moves from 16:00 to
    # 24:00: the new halfway mark (16:00) is ahead again, so nothing counts as passed.
    timer = running(COMPLETE, passed=2)
    now = START + 5 * HOUR
    new_due = START + 16 * HOUR
    change = extended(
        timer,
        Extension.MOVED,
        extended_at=now,
        complete_by=new_due,
        policy=ClockPolicy(thresholds=(0.5, 0.75)),
        now=now,
    )
    assert change.due_at == new_due
    assert change.marks is not None
    assert [(m.threshold, m.at) for m in change.marks] == [
        (0.5, START + 8 * HOUR),
        (0.75, START + 12 * HOUR),
        (1.0, new_due),
    ]
    assert change.passed == 0
    assert (change.reschedule, change.next_at) == (True, START + 8 * HOUR)
    assert change.extension is not None and change.extension.applied
    assert (change.extension.before, change.extension.after) == (DUE, new_due)


def test_an_extension_after_a_breach_is_recorded_and_moves_nothing() -> None:
    timer = running(COMPLETE)
    at = DUE + HOUR
    change = extended(
        timer,
        Extension.RECORDED_AFTER_BREACH,
        extended_at=at,
        complete_by=DUE + 24 * HOUR,
        policy=ClockPolicy(),
        now=at,
    )
    assert change.due_at is None and change.marks is None and change.passed is None
    assert change.reschedule is False
    assert change.last_extended_at == at
    assert change.extension is not None and not change.extension.applied


def test_the_scan_announces_a_passed_warning_and_schedules_the_next_mark() -> None:
    now = START + 4 * HOUR + timedelta(seconds=1)
    claim = claimed(running(), judged=now, now=now)
    assert claim is not None
    assert isinstance(claim.event, SlaWarning) and claim.event.threshold == 0.5
    assert (claim.change.passed, claim.change.announced, claim.change.skipped) == (1, 0.5, ())
    assert claim.change.next_at == START + 6 * HOUR
    assert claim.change.state is None  # a warning leaves the clock running


def test_a_scan_late_past_the_deadline_breaches_and_skips_the_warnings() -> None:
    now = DUE + timedelta(minutes=10)
    claim = claimed(running(), judged=now, now=now)
    assert claim is not None
    assert isinstance(claim.event, SlaBreached) and claim.event.late_seconds == 600.0
    assert (claim.change.passed, claim.change.announced) == (3, 1.0)
    assert claim.change.skipped == (0.5, 0.75)
    assert claim.change.state is TimerState.BREACHED
    assert (claim.change.reschedule, claim.change.next_at) == (True, None)
    assert claim.change.verdict == VerdictStamp(Verdict.LATE, DUE, "city-mgmt")


def test_the_scan_claims_nothing_before_a_mark_or_on_a_clock_no_longer_running() -> None:
    assert claimed(running(), judged=START + HOUR, now=START + HOUR) is None
    met = replace(running(), state=TimerState.MET)
    assert claimed(met, judged=DUE + HOUR, now=DUE + HOUR) is None


# --- what the repository stores for a change (the shape the board, rates and relay read) -----


def test_a_met_clock_is_stored_with_its_verdict_and_leaves_the_scan() -> None:
    at = START + 2 * HOUR
    change, _ = settled(running(), Settlement.MET, at, now=at)
    update, filters = update_document(change, now=at)
    assert update == {
        "$set": {
            "updated_at": at,
            "state": "met",
            "verdict": "met",
            "verdict_at": at,
            "verdict_department": "city-mgmt",
            "verdict_periods": ["2026-11", "2026-Q4", "2026", "all"],
            "settled_at": at,
        },
        "$unset": {"next_at": ""},
    }
    assert filters == []


def test_a_scan_breach_marks_the_announced_and_skipped_thresholds_in_place() -> None:
    now = DUE + timedelta(minutes=10)
    claim = claimed(running(), judged=now, now=now)
    assert claim is not None
    update, filters = update_document(claim.change, now=now)
    assert update["$set"]["marks.$[announced].fired_at"] == now
    assert update["$set"]["marks.$[skipped].skipped"] is True
    assert (update["$set"]["state"], update["$set"]["passed"]) == ("breached", 3)
    assert filters == [{"announced.threshold": 1.0}, {"skipped.threshold": {"$in": [0.5, 0.75]}}]
    assert update["$unset"] == {"next_at": ""}


def test_a_moved_deadline_is_stored_with_its_marks_its_next_mark_and_the_record() -> None:
    now = START + 5 * HOUR
    new_due = START + 16 * HOUR
    change = extended(
        running(COMPLETE, passed=2),
        Extension.MOVED,
        extended_at=now,
        complete_by=new_due,
        policy=ClockPolicy(thresholds=(0.5, 0.75)),
        now=now,
    )
    update, _ = update_document(change, now=now)
    assert update["$set"]["due_at"] == new_due
    assert update["$set"]["next_at"] == START + 8 * HOUR
    assert update["$set"]["marks"][-1] == {"threshold": 1.0, "at": new_due}
    assert "$unset" not in update
    assert update["$push"] == {
        "extensions": {"extended_at": now, "from": DUE, "to": new_due, "applied": True}
    }
