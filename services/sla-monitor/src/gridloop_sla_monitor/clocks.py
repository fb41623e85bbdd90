"""Pure SLA clock rules: was an acceptance in time, how late is a clock, what does it settle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gridloop_common.contracts import SlaBreached, SlaMet
from gridloop_common.contracts.sla import ClockName

ACCEPT: ClockName = "accept"


class TimerState(StrEnum):
    RUNNING = "running"
    # The acceptance arrived before the dispatch that starts the clock (handlers run
    # concurrently): the clock is stopped before it started and settles when the dispatch lands.
    STOPPED = "stopped"
    MET = "met"
    BREACHED = "breached"


class Settlement(StrEnum):
    """What an acceptance does to a clock."""

    # Stopped in time: state "met", publish `sla.met`.
    MET = "met"
    # Accepted after the deadline but before the scan fired: state "breached" now, publish
    # `sla.breached` (the breach is a fact whichever of the two saw it first).
    BREACHED = "breached"
    # The breach was already announced: remember when the acceptance finally came, publish nothing.
    LATE_AFTER_BREACH = "late_after_breach"
    # Already met or already stopped: a repeated acceptance changes nothing.
    ALREADY_SETTLED = "already_settled"


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


def timer_id(order_id: str, clock: ClockName) -> str:
    """One document per order and clock: a redelivered dispatch derives the same id again."""
    return f"{order_id}:{clock}"


def _stored_precision(value: datetime) -> datetime:
    # MongoDB keeps milliseconds: compare at that precision so a time read back from the database
    # and the same time taken from an event agree.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def accepted_in_time(accepted_at: datetime, due_at: datetime) -> bool:
    """The deadline itself still counts as in time."""
    return _stored_precision(accepted_at) <= _stored_precision(due_at)


def late_seconds(due_at: datetime, at: datetime) -> float:
    """Seconds past the deadline at `at`; never negative."""
    return max(0.0, (_stored_precision(at) - _stored_precision(due_at)).total_seconds())


def settle_acceptance(state: TimerState, accepted_at: datetime, due_at: datetime) -> Settlement:
    if state is TimerState.RUNNING:
        if accepted_in_time(accepted_at, due_at):
            return Settlement.MET
        return Settlement.BREACHED
    if state is TimerState.BREACHED:
        return Settlement.LATE_AFTER_BREACH
    return Settlement.ALREADY_SETTLED


def breach_event(facts: ClockFacts, fired_at: datetime, late_at: datetime) -> SlaBreached:
    """`late_at`: when the clock was found past due (the scan's now, or a late acceptance)."""
    return SlaBreached(
        order_id=facts.order_id,
        case_id=facts.case_id,
        department=facts.department,
        clock=facts.clock,
        deadline=facts.due_at,
        category_code=facts.category_code,
        grid_id=facts.grid_id,
        township_id=facts.township_id,
        fired_at=fired_at,
        late_seconds=late_seconds(facts.due_at, late_at),
    )


def met_event(facts: ClockFacts, met_at: datetime) -> SlaMet:
    return SlaMet(
        order_id=facts.order_id,
        case_id=facts.case_id,
        department=facts.department,
        clock=facts.clock,
        deadline=facts.due_at,
        category_code=facts.category_code,
        grid_id=facts.grid_id,
        township_id=facts.township_id,
        met_at=met_at,
    )
