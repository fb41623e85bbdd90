"""Pure SLA clock rules: deadlines, thresholds and colours, what each case event does to a clock."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from gridloop_common.catalogue import CATEGORIES_BY_CODE
from gridloop_common.contracts import SlaBreached, SlaMet, SlaSettledLate, SlaWarning
from gridloop_common.contracts.sla import ClockName
from gridloop_sla_monitor.calendars import Calendar, Calendars

ACCEPT: ClockName = "accept"
COMPLETE: ClockName = "complete"
# The deadline is the last mark of every clock: 100 % of the window.
DEADLINE = 1.0
# Orders of a joint action other than the lead; every other role (sole, lead, unknown) is the
# case's main share, whose complete clock a later lead or sole order of the case takes over.
COOPERATING = "cooperating"


class TimerState(StrEnum):
    # Open: the board shows them, the scan watches them.
    RUNNING = "running"
    BREACHED = "breached"
    # Closed.
    MET = "met"
    LATE = "late"  # accepted/completed after the breach
    STOPPED = "stopped"  # ended without acceptance/completion: rejected, closed, superseded


OPEN_STATES = (TimerState.RUNNING.value, TimerState.BREACHED.value)


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Verdict(StrEnum):
    """What a clock counts as in the on-time rates; a clock without one does not count."""

    MET = "met"
    LATE = "late"


@dataclass(frozen=True)
class Mark:
    """An instant the scan announces: a warning threshold, or the deadline (threshold 1.0)."""

    threshold: float
    at: datetime

    @property
    def is_deadline(self) -> bool:
        return self.threshold >= DEADLINE


def timer_id(order_id: str, clock: ClockName) -> str:
    """Accept clocks by their order; complete clocks by the order that started their share."""
    return f"{order_id}:{clock}"


def partition_of(key: str, partitions: int) -> int:
    """A stable spread of timers over partitions (crc32: the same in every process and run)."""
    return zlib.crc32(key.encode()) % partitions


def stored_precision(value: datetime) -> datetime:
    # MongoDB keeps milliseconds: compare at that precision so a time read back from the database
    # and the same time taken from an event agree.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def judged_until(
    previous: datetime | None,
    now: datetime,
    consuming_since: datetime | None,
    caught_up: bool,
    grace: timedelta,
    *,
    dispatch_published_until: datetime | None = None,
) -> datetime | None:
    """The latest moment whose marks may be judged now: every case event from before it has
    reached this replica, as far as it can tell (None: nothing may be judged yet).

    It moves to `now - grace` only while the consumer is caught up (connected, nothing waiting)
    and has been connected for `grace`; otherwise it stays where it was. After an outage, what
    other services stored meanwhile has `grace` to arrive before any mark is judged. Never past
    dispatch's watermark when one is given: what dispatch stored but has not published yet (it
    crashed first, the broker was away) is still to come.
    """
    if consuming_since is None or not caught_up or now - consuming_since < grace:
        return previous
    candidate = now - grace
    if dispatch_published_until is not None:
        candidate = min(candidate, dispatch_published_until)
    return candidate if previous is None or candidate > previous else previous


def in_time(at: datetime, due_at: datetime) -> bool:
    """The deadline itself still counts as in time."""
    return stored_precision(at) <= stored_precision(due_at)


def late_seconds(due_at: datetime, at: datetime) -> float:
    """Seconds past the deadline at `at`; never negative."""
    return max(0.0, (stored_precision(at) - stored_precision(due_at)).total_seconds())


def deadline(started_at: datetime, stamped: datetime, calendar: Calendar) -> datetime:
    """The clock's deadline from the one dispatch stamped.

    Dispatch stamps wall-clock deadlines (dispatched_at + window). Under a working-hours calendar
    the same window length is counted in working time from the dispatch instead.
    """
    return calendar.add(started_at, stamped - started_at)


def fallback_window(started_at: datetime, stamped: datetime, window: timedelta) -> datetime:
    """A stamp at or before the start is no deadline: use the configured window instead."""
    return stamped if stamped > started_at else started_at + window


def marks_for(
    started_at: datetime, due_at: datetime, thresholds: Sequence[float], calendar: Calendar
) -> tuple[Mark, ...]:
    """Each warning threshold's instant (that share of the window, in counted time), then the
    deadline itself."""
    window = calendar.elapsed(started_at, due_at)
    warnings = tuple(
        Mark(threshold, min(calendar.add(started_at, window * threshold), due_at))
        for threshold in sorted(set(thresholds))
        if 0 < threshold < DEADLINE
    )
    return (*warnings, Mark(DEADLINE, due_at))


def next_mark(marks: Sequence[Mark], passed: int) -> Mark | None:
    return marks[passed] if passed < len(marks) else None


@dataclass(frozen=True)
class Crossing:
    """What one scan of a clock announces: the most severe mark passed since the last scan.

    Marks passed together (a scan late after a restart) are not all announced: a red breach
    makes the yellow warnings before it noise. They are recorded as skipped.
    """

    passed: int
    announce: Mark
    skipped: tuple[Mark, ...]


def crossing(marks: Sequence[Mark], passed: int, now: datetime) -> Crossing | None:
    crossed = [mark for mark in marks[passed:] if mark.at <= now]
    if not crossed:
        return None
    return Crossing(passed + len(crossed), crossed[-1], tuple(crossed[:-1]))


def colour(marks: Sequence[Mark], state: TimerState, now: datetime) -> Colour:
    """Green below the first threshold, yellow from it, red from the deadline (or once breached)."""
    if state is TimerState.BREACHED or now >= marks[-1].at:
        return Colour.RED
    if len(marks) > 1 and now >= marks[0].at:
        return Colour.YELLOW
    return Colour.GREEN


def fraction(started_at: datetime, due_at: datetime, now: datetime, calendar: Calendar) -> float:
    """Share of the window used by `now`, in counted time (above 1 when overdue)."""
    window = calendar.elapsed(started_at, due_at)
    if window <= timedelta(0):
        return 1.0 if now >= due_at else 0.0
    return calendar.elapsed(started_at, now) / window


@dataclass(frozen=True)
class StartedClock:
    calendar: str
    due_at: datetime
    marks: tuple[Mark, ...]


# Dispatch's default for a category missing from the catalogue (its DEFAULT_COMPLETE_WITHIN_HOURS).
DEFAULT_COMPLETE_WITHIN = timedelta(hours=72)


@dataclass(frozen=True)
class ClockPolicy:
    """The configured rules every new clock is started with."""

    thresholds: tuple[float, ...] = (0.75,)
    calendars: Calendars = field(default_factory=Calendars)
    accept_window: timedelta = timedelta(hours=8)

    def fallback_window(self, clock: ClockName, category_code: str | None) -> timedelta:
        if clock == ACCEPT:
            return self.accept_window
        category = CATEGORIES_BY_CODE.get(category_code or "")
        if category is None:
            return DEFAULT_COMPLETE_WITHIN
        return timedelta(hours=category.complete_within_hours)

    def start(
        self,
        clock: ClockName,
        *,
        department: str,
        category_code: str | None,
        started_at: datetime,
        stamped: datetime,
    ) -> StartedClock:
        calendar = self.calendars.for_department(department)
        usable = fallback_window(started_at, stamped, self.fallback_window(clock, category_code))
        due_at = deadline(started_at, usable, calendar)
        return StartedClock(
            calendar.name, due_at, marks_for(started_at, due_at, self.thresholds, calendar)
        )

    def moved(self, calendar_name: str, started_at: datetime, due_at: datetime) -> tuple[Mark, ...]:
        """Marks for a deadline an approved extension moved (an absolute time, not converted)."""
        calendar = self.calendars.named(calendar_name)
        return marks_for(started_at, due_at, self.thresholds, calendar)


# --- what case events do to a clock ------------------------------------------------------------


class Settlement(StrEnum):
    """What an acceptance (accept clock) or a completion (complete clock) does."""

    # Stopped in time: state "met", publish `sla.met`.
    MET = "met"
    # After the deadline but before the scan announced it: the breach is a fact whichever side
    # sees it first — publish `sla.breached` and `sla.settled_late` together, state "late".
    BREACHED_AND_LATE = "breached_and_late"
    # The breach was announced already: publish `sla.settled_late`, state "late".
    LATE = "late"
    # Met, late or stopped already: a repeated or stale event changes nothing.
    ALREADY_SETTLED = "already_settled"


def settle(state: TimerState, at: datetime, due_at: datetime) -> Settlement:
    if state is TimerState.RUNNING:
        return Settlement.MET if in_time(at, due_at) else Settlement.BREACHED_AND_LATE
    if state is TimerState.BREACHED:
        return Settlement.LATE
    return Settlement.ALREADY_SETTLED


class Rejection(StrEnum):
    """What a unit's rejection does to its own accept clock (its share's complete clock runs on)."""

    # Rejected in time: the clock stops with no verdict (a rejection is no acceptance).
    STOPPED_IN_TIME = "stopped_in_time"
    # Rejected after the deadline the scan had not announced yet: announce the breach, stop.
    BREACHED = "breached"
    # Rejected after the announced breach: stop; the breach stays on record.
    STOPPED_AFTER_BREACH = "stopped_after_breach"
    ALREADY_SETTLED = "already_settled"


def reject(state: TimerState, at: datetime, due_at: datetime) -> Rejection:
    if state is TimerState.RUNNING:
        return Rejection.STOPPED_IN_TIME if in_time(at, due_at) else Rejection.BREACHED
    if state is TimerState.BREACHED:
        return Rejection.STOPPED_AFTER_BREACH
    return Rejection.ALREADY_SETTLED


class Lineage(StrEnum):
    """Where a newly dispatched order's complete clock comes from."""

    # The share's clock of the order it replaces (re-dispatch, fallback owner).
    PREVIOUS_ORDER = "previous_order"
    # The case's open main clock (a joint action's lead taking over a rejected sole order's share).
    CASE_MAIN = "case_main"
    # A clock of its own: the first order of a share, a cooperating unit, a reopened case.
    NEW = "new"


def lineage(reason: str | None, role: str | None, previous_order_id: str | None) -> Lineage:
    """The complete clock belongs to the case's share, not to the unit holding it."""
    if reason == "reopened":
        # The reporter sent the case back: the earlier clock settled at completion, a new one runs.
        return Lineage.NEW
    if previous_order_id is not None:
        return Lineage.PREVIOUS_ORDER
    if role == COOPERATING:
        return Lineage.NEW
    return Lineage.CASE_MAIN


class Extension(StrEnum):
    """What an approved extension does to a complete clock."""

    # Running: the deadline moves and the thresholds are recomputed for the longer window.
    MOVED = "moved"
    # Already breached: the breach stands (no clock is rearmed or fires twice); the new
    # deadline is recorded and the completion is still late against the breached one. So is
    # an approval dated after the deadline it would move, even when the scan has not announced
    # that breach yet (it announces it next): a breach is a fact at the deadline, not when
    # someone notices it.
    RECORDED_AFTER_BREACH = "recorded_after_breach"
    # An older approval than one applied already (messages may arrive out of order), a
    # repeated one, or the clock has stopped: nothing changes.
    IGNORED = "ignored"


def extension(
    state: TimerState,
    extended_at: datetime,
    last_extended_at: datetime | None,
    due_at: datetime,
) -> Extension:
    if last_extended_at is not None and stored_precision(extended_at) <= stored_precision(
        last_extended_at
    ):
        return Extension.IGNORED
    if state is TimerState.RUNNING:
        # Approved after the deadline in force: too late to move it (the fault suite caught
        # an approval handled 30 s late, after a database outage, turning a breach into "met").
        if stored_precision(extended_at) > stored_precision(due_at):
            return Extension.RECORDED_AFTER_BREACH
        return Extension.MOVED
    if state is TimerState.BREACHED:
        return Extension.RECORDED_AFTER_BREACH
    return Extension.IGNORED


def passed_after_move(marks: Sequence[Mark], passed_before: int, now: datetime) -> int:
    """Marks that count as passed once the deadline moved.

    Thresholds announced before stay announced if they are still behind `now`; the rest are
    announced again when the longer window reaches them. The deadline (last mark) is never
    counted as passed here: a moved deadline that is already behind is found by the scan.
    """
    behind = sum(1 for mark in marks[:-1] if mark.at <= now)
    return min(passed_before, behind)


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockFacts:
    """What an SLA event says about the order whose clock it is."""

    order_id: str
    case_id: str
    department: str
    clock: ClockName
    due_at: datetime
    category_code: str | None = None
    grid_id: str | None = None
    township_id: str | None = None
    started_at: datetime | None = None
    calendar: str | None = None
    role: str | None = None

    def fields(self) -> dict[str, object]:
        return {
            "order_id": self.order_id,
            "case_id": self.case_id,
            "department": self.department,
            "clock": self.clock,
            "deadline": self.due_at,
            "category_code": self.category_code,
            "grid_id": self.grid_id,
            "township_id": self.township_id,
            "started_at": self.started_at,
            "calendar": self.calendar,
            "role": self.role,
        }


def warning_event(facts: ClockFacts, mark: Mark, fired_at: datetime) -> SlaWarning:
    return SlaWarning.model_validate(
        {
            **facts.fields(),
            "fired_at": fired_at,
            "threshold": mark.threshold,
            "threshold_at": mark.at,
            "late_seconds": late_seconds(mark.at, fired_at),
            "remaining_seconds": max(0.0, (facts.due_at - fired_at).total_seconds()),
        }
    )


def breach_event(facts: ClockFacts, fired_at: datetime, late_at: datetime) -> SlaBreached:
    """`late_at`: when the clock was found past due (the scan's now, or a late reply's time)."""
    return SlaBreached.model_validate(
        {
            **facts.fields(),
            "fired_at": fired_at,
            "late_seconds": late_seconds(facts.due_at, late_at),
        }
    )


def met_event(facts: ClockFacts, met_at: datetime) -> SlaMet:
    return SlaMet.model_validate({**facts.fields(), "met_at": met_at})


def settled_late_event(
    facts: ClockFacts, settled_at: datetime, breached_at: datetime | None
) -> SlaSettledLate:
    return SlaSettledLate.model_validate(
        {
            **facts.fields(),
            "settled_at": settled_at,
            "late_seconds": late_seconds(facts.due_at, settled_at),
            "breached_at": breached_at,
        }
    )
