"""A timer as sla-monitor keeps it, and what each transition writes to it: pure, no I/O.

`clocks` holds the rules (marks, settlements, rejections, extensions); the functions here apply
one of them to a timer as read and return a `TimerChange` with the events it causes. The
repository turns the change into one conditional update: it lands only if the timer is still as
it was read (`TimerChange` says which fields the condition covers), so of several replicas or
concurrent handlers exactly one wins, and the loser reads again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from gridloop_common.contracts import SlaEvent
from gridloop_common.contracts.sla import ClockName
from gridloop_sla_monitor.clocks import (
    ClockFacts,
    ClockPolicy,
    Crossing,
    Extension,
    Mark,
    Rejection,
    Settlement,
    TimerState,
    Verdict,
    breach_event,
    crossing,
    late_seconds,
    met_event,
    next_mark,
    passed_after_move,
    settled_late_event,
    warning_event,
)


@dataclass(frozen=True)
class MarkRecord:
    """A mark of a clock, and whether the scan announced or skipped it."""

    threshold: float
    at: datetime
    fired_at: datetime | None = None
    skipped: bool = False


@dataclass(frozen=True)
class ExtensionRecord:
    """An extension the clock heard: its deadline before and after, and whether it moved it."""

    extended_at: datetime
    before: datetime
    after: datetime
    applied: bool


@dataclass(frozen=True)
class Timer:
    """One clock: what it times, where it stands, what it decided."""

    timer: str
    clock: ClockName
    state: TimerState
    order_id: str
    case_id: str
    department: str
    due_at: datetime
    partition: int
    marks: tuple[MarkRecord, ...]
    # How many marks are behind it (announced or skipped), and the next one's time, if any.
    passed: int = 0
    next_at: datetime | None = None
    calendar: str | None = None
    started_at: datetime | None = None
    category_code: str | None = None
    grid_id: str | None = None
    township_id: str | None = None
    role: str | None = None
    correlation_id: str | None = None
    # Accept clocks: the `_id` of the complete clock of the order's share.
    complete_timer: str | None = None
    # Complete clocks: the orders that held this share's clock, in turn (the last holds it).
    orders: tuple[str, ...] = ()
    last_extended_at: datetime | None = None
    extensions: tuple[ExtensionRecord, ...] = ()
    fired_at: datetime | None = None
    late_seconds: float | None = None
    settled_at: datetime | None = None
    verdict: Verdict | None = None
    stop_reason: str | None = None
    rejected_at: datetime | None = None

    @property
    def schedule(self) -> tuple[Mark, ...]:
        return tuple(Mark(m.threshold, m.at) for m in self.marks)

    @property
    def facts(self) -> ClockFacts:
        return ClockFacts(
            order_id=self.order_id,
            case_id=self.case_id,
            department=self.department,
            clock=self.clock,
            due_at=self.due_at,
            category_code=self.category_code,
            grid_id=self.grid_id,
            township_id=self.township_id,
            started_at=self.started_at,
            calendar=self.calendar,
            role=self.role,
        )


@dataclass(frozen=True)
class VerdictStamp:
    """A clock's verdict for the rates, counted in the periods `at` falls in."""

    verdict: Verdict
    at: datetime
    department: str


@dataclass(frozen=True)
class Stop:
    """Why a clock stopped without running out."""

    reason: str
    at: datetime
    rejected_at: datetime | None = None
    reason_code: str | None = None


@dataclass(frozen=True)
class TimerChange:
    """What one transition writes to a timer read in some state with some deadline.

    The write lands only if the timer still has that state and deadline, and, when the change
    sets `passed`, the count of passed marks it was read with.
    """

    state: TimerState | None = None
    verdict: VerdictStamp | None = None
    fired_at: datetime | None = None
    late_seconds: float | None = None
    settled_at: datetime | None = None
    settled_late_seconds: float | None = None
    stop: Stop | None = None
    # A moved deadline and its marks recomputed (announcements forgotten).
    due_at: datetime | None = None
    marks: tuple[Mark, ...] | None = None
    passed: int | None = None
    # The scan announced the mark with this threshold and skipped those.
    announced: float | None = None
    skipped: tuple[float, ...] = ()
    # With `reschedule`, the scan looks for this clock next at `next_at` (None: never again).
    reschedule: bool = False
    next_at: datetime | None = None
    last_extended_at: datetime | None = None
    extension: ExtensionRecord | None = None


def settled(
    timer: Timer, settlement: Settlement, at: datetime, now: datetime
) -> tuple[TimerChange, list[SlaEvent]]:
    """A reply at `at` settles a clock not settled yet: met, or late (breached now, if the
    scan had not announced it)."""
    facts = timer.facts
    if settlement is Settlement.MET:
        return TimerChange(
            state=TimerState.MET,
            settled_at=at,
            verdict=VerdictStamp(Verdict.MET, at, facts.department),
            reschedule=True,
        ), [met_event(facts, at)]
    if settlement is Settlement.BREACHED_AND_LATE:
        breach = breach_event(facts, fired_at=now, late_at=at)
        return TimerChange(
            state=TimerState.LATE,
            settled_at=at,
            fired_at=now,
            late_seconds=breach.late_seconds,
            verdict=VerdictStamp(Verdict.LATE, facts.due_at, facts.department),
            reschedule=True,
        ), [breach, settled_late_event(facts, at, breached_at=now)]
    return TimerChange(
        state=TimerState.LATE,
        settled_at=at,
        settled_late_seconds=late_seconds(facts.due_at, at),
        reschedule=True,
    ), [settled_late_event(facts, at, breached_at=timer.fired_at)]


def rejected(
    timer: Timer, outcome: Rejection, at: datetime, reason_code: str, now: datetime
) -> tuple[TimerChange, list[SlaEvent]]:
    """A rejection stops the unit's accept clock; one after its deadline is a breach too."""
    stop = Stop("rejected", at, rejected_at=at, reason_code=reason_code)
    if outcome is not Rejection.BREACHED:
        return TimerChange(state=TimerState.STOPPED, stop=stop, reschedule=True), []
    facts = timer.facts
    breach = breach_event(facts, fired_at=now, late_at=at)
    return TimerChange(
        state=TimerState.STOPPED,
        stop=stop,
        fired_at=now,
        late_seconds=breach.late_seconds,
        verdict=VerdictStamp(Verdict.LATE, facts.due_at, facts.department),
        reschedule=True,
    ), [breach]


def extended(
    timer: Timer,
    outcome: Extension,
    *,
    extended_at: datetime,
    complete_by: datetime,
    policy: ClockPolicy,
    now: datetime,
) -> TimerChange:
    """An approved extension: recorded always; it moves the deadline only if `MOVED`."""
    record = ExtensionRecord(extended_at, timer.due_at, complete_by, outcome is Extension.MOVED)
    if outcome is not Extension.MOVED:
        return TimerChange(last_extended_at=extended_at, extension=record)
    # A timer always has its start; a missing one would be a corrupt document, so fail loudly.
    assert timer.started_at is not None and timer.calendar is not None
    marks = policy.moved(timer.calendar, timer.started_at, complete_by)
    passed = passed_after_move(marks, timer.passed, now)
    following = next_mark(marks, passed)
    return TimerChange(
        due_at=complete_by,
        marks=marks,
        passed=passed,
        # The deadline mark is never counted as passed here, so one always follows.
        reschedule=True,
        next_at=None if following is None else following.at,
        last_extended_at=extended_at,
        extension=record,
    )


@dataclass(frozen=True)
class Claim:
    """What the scan announces for one clock, and the change that records it."""

    crossing: Crossing
    change: TimerChange
    event: SlaEvent


def claimed(timer: Timer, judged: datetime, now: datetime) -> Claim | None:
    """The most severe mark a running clock has passed by `judged`, announced at `now`."""
    if timer.state is not TimerState.RUNNING:
        return None
    marks = timer.schedule
    cross = crossing(marks, timer.passed, judged)
    if cross is None:
        return None
    facts = timer.facts
    following = next_mark(marks, cross.passed)
    base = TimerChange(
        passed=cross.passed,
        announced=cross.announce.threshold,
        skipped=tuple(m.threshold for m in cross.skipped),
        reschedule=True,
        next_at=None if following is None else following.at,
    )
    if not cross.announce.is_deadline:
        return Claim(cross, base, warning_event(facts, cross.announce, now))
    breach = breach_event(facts, fired_at=now, late_at=now)
    change = replace(
        base,
        state=TimerState.BREACHED,
        fired_at=now,
        late_seconds=breach.late_seconds,
        verdict=VerdictStamp(Verdict.LATE, facts.due_at, facts.department),
    )
    return Claim(cross, change, breach)
