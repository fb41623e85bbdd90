"""sla-monitor's use cases called directly, over clocks kept in memory: a dispatch starts an
order's clocks once, a reply settles them once, a reply that overtook what it depends on waits
(NotYet) until its last attempt, closing stops the case's clocks, and a clock that keeps
changing under the use case is retried later rather than written blind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridloop_common.clock import ManualClock
from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseRejected,
)
from gridloop_common.messaging import NotYet, Outgoing
from gridloop_sla_monitor.clocks import ACCEPT, COMPLETE, OPEN_STATES, ClockPolicy, TimerState
from gridloop_sla_monitor.repository import NewClock, timer_of
from gridloop_sla_monitor.service import MAX_PASSES, Cause, ClockKeptChanging, ClockService
from gridloop_sla_monitor.timer import Timer, TimerChange

START = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ORDER = {
    "case_id": "C-1",
    "order_id": "O-1",
    "department": "water",
    "category_code": "leak",
    "grid_id": "g-1",
}


class MemoryTimers:
    """The clocks in memory, under the repository's rule for a change: it lands only if the
    clock is still in the state, with the deadline (and passed marks) it was read with."""

    def __init__(self) -> None:
        self.timers: dict[str, Timer] = {}
        self.main: dict[str, bool] = {}
        self.sent: list[Outgoing] = []
        # Changes another writer makes first: each lost race leaves the clock as it was.
        self.races_to_lose = 0

    async def insert(
        self,
        new: NewClock,
        event: CaseDispatched,
        *,
        event_id: str,
        correlation_id: str | None,
        complete_timer: str | None = None,
    ) -> bool:
        if new.timer in self.timers:
            return False
        document = new.document(
            event, event_id=event_id, correlation_id=correlation_id, complete_timer=complete_timer
        )
        self.timers[new.timer] = timer_of(document)
        self.main[new.timer] = bool(document.get("main"))
        return True

    async def get(self, timer: str) -> Timer | None:
        return self.timers.get(timer)

    def _open(self, case_id: str) -> list[Timer]:
        return [
            t for t in self.timers.values() if t.case_id == case_id and t.state.value in OPEN_STATES
        ]

    async def open_main_clocks(self, case_id: str) -> list[Timer]:
        mains = [t for t in self._open(case_id) if t.clock == COMPLETE and self.main[t.timer]]
        return sorted(mains, key=lambda t: t.started_at or START)

    async def open_clocks_of_case(
        self, case_id: str, started_by: datetime, other_than: str = ""
    ) -> list[str]:
        return [
            t.timer
            for t in self._open(case_id)
            if (t.started_at or START) <= started_by and t.order_id != other_than
        ]

    async def apply(
        self, timer: Timer, change: TimerChange, events: Sequence[Outgoing], now: datetime
    ) -> bool:
        if self.races_to_lose:
            self.races_to_lose -= 1
            return False
        stored = self.timers[timer.timer]
        if (stored.state, stored.due_at) != (timer.state, timer.due_at):
            return False
        self.timers[timer.timer] = replace(
            stored,
            state=change.state or stored.state,
            due_at=change.due_at or stored.due_at,
            settled_at=change.settled_at or stored.settled_at,
            fired_at=change.fired_at or stored.fired_at,
        )
        self.sent += events
        return True

    async def hand_over(self, timer: str, **_: Any) -> bool:  # pragma: no cover - not used here
        raise AssertionError("no share is handed over in these tests")

    async def stop_case(self, case_id: str, reason: str, at: datetime, now: datetime) -> int:
        stopping = [t for t in self._open(case_id) if (t.started_at or START) <= at]
        for t in stopping:
            self.timers[t.timer] = replace(t, state=TimerState.STOPPED, stop_reason=reason)
        return len(stopping)


def service_over(timers: MemoryTimers) -> ClockService:
    async def partitions() -> int:
        return 4

    return ClockService(
        timers,  # type: ignore[arg-type]  # the repository's methods these use cases call
        ManualClock(START),
        ClockPolicy(accept_window=8 * HOUR),
        partitions,
    )


def dispatched() -> CaseDispatched:
    return CaseDispatched(
        **ORDER, dispatched_at=START, accept_by=START + 8 * HOUR, complete_by=START + 72 * HOUR
    )


def cause(event_id: str, *, last_attempt: bool = False) -> Cause:
    return Cause(event_id, correlation_id="corr-1", last_attempt=last_attempt)


def states(timers: MemoryTimers) -> dict[str, str]:
    return {name: t.state.value for name, t in sorted(timers.timers.items())}


def kinds(timers: MemoryTimers) -> list[str]:
    return [o.routing_key for o in timers.sent]


async def started() -> tuple[ClockService, MemoryTimers]:
    timers = MemoryTimers()
    service = service_over(timers)
    await service.start_clocks(dispatched(), cause("d-1"))
    return service, timers


async def test_a_dispatch_starts_the_accept_and_complete_clocks_once() -> None:
    service, timers = await started()
    await service.start_clocks(dispatched(), cause("d-1"))  # redelivered

    assert states(timers) == {f"O-1:{ACCEPT}": "running", f"O-1:{COMPLETE}": "running"}
    accept = timers.timers[f"O-1:{ACCEPT}"]
    assert accept.due_at == START + 8 * HOUR
    assert accept.complete_timer == f"O-1:{COMPLETE}"


async def test_an_acceptance_in_time_meets_the_accept_clock_once_however_often_delivered() -> None:
    service, timers = await started()
    accepted = CaseAccepted(**ORDER, accepted_at=START + 2 * HOUR)

    await service.settle_acceptance(accepted, cause("a-1"))
    await service.settle_acceptance(accepted, cause("a-1"))

    assert states(timers)[f"O-1:{ACCEPT}"] == "met"
    assert kinds(timers) == ["sla.met.accept.water"]
    (met,) = timers.sent
    assert met.correlation_id == "corr-1"


async def test_a_reply_that_overtook_its_dispatch_waits_for_it() -> None:
    service = service_over(MemoryTimers())
    accepted = CaseAccepted(**ORDER, accepted_at=START + HOUR)

    with pytest.raises(NotYet):
        await service.settle_acceptance(accepted, cause("a-1"))


async def test_a_late_completion_waits_for_its_acceptance_then_settles_on_the_last_attempt() -> (
    None
):
    service, timers = await started()
    # Completed after the accept deadline while the accept clock still runs: the acceptance
    # may still be on its way, and judged by the completion the clock would look late.
    completed = CaseCompleted(**ORDER, completed_at=START + 10 * HOUR, case_complete=False)

    with pytest.raises(NotYet):
        await service.settle_completion(completed, cause("c-1"))
    assert timers.sent == []

    await service.settle_completion(completed, cause("c-1", last_attempt=True))
    assert states(timers) == {f"O-1:{ACCEPT}": "late", f"O-1:{COMPLETE}": "met"}
    assert kinds(timers) == [
        "sla.breached.accept.water",
        "sla.settled_late.accept.water",
        "sla.met.complete.water",
    ]


async def test_a_completion_saying_when_its_order_was_accepted_judges_the_accept_clock() -> None:
    service, timers = await started()
    # Completed after the accept deadline, the case.accepted not handled yet (overtaken): the
    # completion's accepted_at is the acceptance's time, met in time; nothing waits.
    completed = CaseCompleted(
        **ORDER,
        completed_at=START + 10 * HOUR,
        accepted_at=START + 2 * HOUR,
        case_complete=False,
    )

    await service.settle_completion(completed, cause("c-1"))
    await service.settle_acceptance(
        CaseAccepted(**ORDER, accepted_at=START + 2 * HOUR), cause("a-1")
    )  # arrives after it: already settled, no second verdict

    assert states(timers) == {f"O-1:{ACCEPT}": "met", f"O-1:{COMPLETE}": "met"}
    assert kinds(timers) == ["sla.met.accept.water", "sla.met.complete.water"]


async def test_a_late_rejection_of_an_order_never_accepted_is_a_breach_at_once() -> None:
    service, timers = await started()
    rejected = CaseRejected(**ORDER, rejected_at=START + 9 * HOUR, reason_code="not_ours")

    await service.stop_by_rejection(rejected, cause("r-1"))  # no NotYet: no acceptance exists

    assert states(timers)[f"O-1:{ACCEPT}"] == "stopped"
    assert kinds(timers) == ["sla.breached.accept.water"]


async def test_a_rejection_of_an_accepted_order_is_judged_by_its_acceptance() -> None:
    service, timers = await started()
    # Accepted in time, rejected after the deadline, and the rejection handled first.
    rejected = CaseRejected(
        **ORDER,
        rejected_at=START + 9 * HOUR,
        reason_code="not_ours",
        accepted_at=START + HOUR,
    )

    await service.stop_by_rejection(rejected, cause("r-1"))

    assert states(timers)[f"O-1:{ACCEPT}"] == "met"
    assert kinds(timers) == ["sla.met.accept.water"]


async def test_closing_stops_the_case_s_clocks_once_its_replies_are_in() -> None:
    service, timers = await started()
    closed = CaseClosed(**ORDER, closed_at=START + 3 * HOUR, satisfied=True)

    with pytest.raises(NotYet):  # a clock still open: its reply has not been handled yet
        await service.close_case(closed, cause("z-1"))
    await service.close_case(closed, cause("z-1", last_attempt=True))

    assert set(states(timers).values()) == {"stopped"}
    assert timers.sent == []  # closing is no verdict


async def test_a_clock_that_keeps_changing_is_retried_later_not_written_blind() -> None:
    service, timers = await started()
    timers.races_to_lose = MAX_PASSES
    accepted = CaseAccepted(**ORDER, accepted_at=START + 2 * HOUR)

    with pytest.raises(ClockKeptChanging):
        await service.settle_acceptance(accepted, cause("a-1"))
    assert states(timers)[f"O-1:{ACCEPT}"] == "running"

    timers.races_to_lose = MAX_PASSES - 1  # won on the last pass
    await service.settle_acceptance(accepted, cause("a-1"))
    assert states(timers)[f"O-1:{ACCEPT}"] == "met"
