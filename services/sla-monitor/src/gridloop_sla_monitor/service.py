"""sla-monitor's use cases: start, hand over, move, settle and stop an order's clocks.

Each takes the case event and its `Cause` (which message asked, and whether a retry follows);
the handlers (handlers.py) only translate a delivery into that. The decisions are the pure rules
of clocks.py and timer.py; the writes go through the repository, each clock's change with its
events in one document (the outbox).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    DispatchWatermark,
    SlaEvent,
)
from gridloop_common.contracts.sla import ClockName
from gridloop_common.messaging import NotYet, Outgoing
from gridloop_sla_monitor.clocks import (
    ACCEPT,
    COMPLETE,
    ClockPolicy,
    Extension,
    Lineage,
    Rejection,
    Settlement,
    TimerState,
    extension,
    in_time,
    lineage,
    partition_of,
    reject,
    settle,
    timer_id,
)
from gridloop_sla_monitor.outgoing import sla_outgoing
from gridloop_sla_monitor.repository import NewClock, TimerRepository, WatermarkRepository
from gridloop_sla_monitor.timer import Timer, TimerChange, extended, rejected, settled

log = structlog.stdlib.get_logger("gridloop.sla_monitor")

# Each pass either changes the clock or sees a change another writer just made; states only
# move forward (running → breached → late/stopped, running → met/stopped), so a few suffice.
MAX_PASSES = 4


class ClockNotStarted(NotYet):
    """The dispatch that starts this order's clocks has not been handled yet.

    Handlers run concurrently and a dispatch may be in a retry tier: the message is retried
    (RETRY_DELAYS_MS) and by then the dispatch has normally landed. Past the retries it is
    parked in `sla-monitor.dead` with this reason, never dropped.
    """


class ClockKeptChanging(Exception):
    """Lost the race for a clock MAX_PASSES times in a row: retry the message later."""


@dataclass(frozen=True)
class Cause:
    """The message a change comes from: its id is the causation of every SLA event it emits."""

    event_id: str
    correlation_id: str | None = None
    # No retry follows: a use case waiting for an earlier event decides now with what it has.
    last_attempt: bool = False


@dataclass(frozen=True)
class ClockService:
    timers: TimerRepository
    clock: Clock
    policy: ClockPolicy
    # The partition count (fixed at first start, read from the database once).
    partitions: Callable[[], Awaitable[int]]
    # Tells this replica's scan that a clock's next mark is at the given time.
    armed: Callable[[datetime], None] = lambda _: None
    watermarks: WatermarkRepository | None = None

    # --- dispatch's watermark: how far its case events have been published -------------------

    async def raise_watermark(self, event: DispatchWatermark, cause: Cause) -> None:
        if self.watermarks is not None:
            await self.watermarks.raise_to(event.published_until, self.clock.now())

    # --- dispatch: the order's accept clock starts; its share's complete clock starts or moves --

    async def start_clocks(self, event: CaseDispatched, cause: Cause) -> None:
        accept = timer_id(event.order_id, ACCEPT)
        if await self.timers.get(accept) is not None:
            # The accept clock is stored last: a redelivered dispatch finds its work done.
            log.info("sla_clock_already_started", order_id=event.order_id)
            return
        count = await self.partitions()
        complete = await self._complete_clock(event, cause, count)
        started = self._new_clock(event, ACCEPT, accept, count)
        if await self.timers.insert(
            started,
            event,
            event_id=cause.event_id,
            correlation_id=cause.correlation_id,
            complete_timer=complete,
        ):
            self.armed(started.marks[0].at)
            log.info(
                "sla_clock_started",
                order_id=event.order_id,
                clock=ACCEPT,
                department=event.department,
                due_at=started.due_at.isoformat(),
                calendar=started.calendar,
                complete_timer=complete,
            )

    def _new_clock(
        self, event: CaseDispatched, clock: ClockName, timer: str, partitions: int
    ) -> NewClock:
        stamped = event.accept_by if clock == ACCEPT else event.complete_by
        started = self.policy.start(
            clock,
            department=event.department,
            category_code=event.category_code,
            started_at=event.dispatched_at,
            stamped=stamped,
        )
        return NewClock(
            timer=timer,
            clock=clock,
            partition=partition_of(timer, partitions),
            calendar=started.calendar,
            started_at=event.dispatched_at,
            due_at=started.due_at,
            marks=started.marks,
        )

    async def _complete_clock(self, event: CaseDispatched, cause: Cause, count: int) -> str:
        """The `_id` of the complete clock this order holds: its share's, or a new one."""
        kind = lineage(event.dispatch_reason, event.role, event.previous_order_id)
        if kind is Lineage.PREVIOUS_ORDER and event.previous_order_id is not None:
            previous = await self.timers.get(timer_id(event.previous_order_id, ACCEPT))
            if previous is None and not cause.last_attempt:
                raise ClockNotStarted(
                    f"the order {event.previous_order_id} that {event.order_id} replaces has no "
                    "clock yet; retrying while its dispatch lands"
                )
            held = None if previous is None else previous.complete_timer
            if held is not None and await self._take_over(held, event):
                return held
            log.warning(
                "sla_share_clock_not_inherited",
                order_id=event.order_id,
                previous_order_id=event.previous_order_id,
                reason="unknown" if previous is None else "stopped",
            )
        elif kind is Lineage.CASE_MAIN:
            for main in await self.timers.open_main_clocks(event.case_id):
                if await self._take_over(main.timer, event):
                    return main.timer
        timer = timer_id(event.order_id, COMPLETE)
        started = self._new_clock(event, COMPLETE, timer, count)
        if await self.timers.insert(
            started, event, event_id=cause.event_id, correlation_id=cause.correlation_id
        ):
            self.armed(started.marks[0].at)
        return timer

    async def _take_over(self, timer: str, event: CaseDispatched) -> bool:
        """The new order holds the share's running clock now; its deadline does not move."""
        share = await self.timers.get(timer)
        if share is None:
            return False
        if event.order_id in share.orders:
            return True  # a redelivery after a partial first attempt: ours already
        taken = await self.timers.hand_over(
            timer,
            order_id=event.order_id,
            department=event.department,
            role=event.role,
            held_since=event.dispatched_at,
            now=self.clock.now(),
        )
        if taken:
            log.info(
                "sla_share_clock_handed_over",
                order_id=event.order_id,
                department=event.department,
                timer=timer,
                reason=event.dispatch_reason,
            )
        return taken

    # --- acceptance and completion: met in time, else late -----------------------------------

    async def settle_acceptance(self, event: CaseAccepted, cause: Cause) -> None:
        accept = await self._accept_clock(event.order_id)
        await self._settle(accept, event.accepted_at, cause, how="accepted")

    async def settle_completion(self, event: CaseCompleted, cause: Cause) -> None:
        accept = await self._accept_clock(event.order_id)
        if event.accepted_at is not None:
            # The completion says when the order was accepted: the accept clock's verdict,
            # whether or not the case.accepted has arrived (it may have been overtaken).
            await self._settle(accept, event.accepted_at, cause, how="accepted")
        else:
            # From a dispatch that did not say (older than the field): an accept clock still
            # running means the acceptance is on its way. Judged by the completion's time it
            # might look late; wait for it, and only on the last attempt count the completion
            # as the acceptance.
            self._acceptance_first(accept, event.completed_at, cause)
            await self._settle(accept, event.completed_at, cause, how="completed")
        complete = (
            None if accept.complete_timer is None else await self.timers.get(accept.complete_timer)
        )
        if complete is not None and complete.order_id == event.order_id:
            await self._settle(complete, event.completed_at, cause, how="completed")
        else:
            log.warning(
                "sla_completion_of_a_share_held_elsewhere",
                order_id=event.order_id,
                timer=accept.complete_timer,
            )
        if event.case_complete:
            # The lead's report ends the case: no unit's clock of it is left waiting. A unit's
            # own completion may still be on its way (it overtook nothing in time, only in the
            # inbox): wait for it through the retry tiers before stopping its clock unjudged.
            await self._settled_first(
                event.case_id, event.completed_at, cause, other_than=event.order_id
            )
            await self._stop_case(event.case_id, "case_completed", event.completed_at)

    @staticmethod
    def _acceptance_first(accept: Timer, at: datetime, cause: Cause) -> None:
        running = accept.state is TimerState.RUNNING
        if running and not in_time(at, accept.due_at) and not cause.last_attempt:
            raise ClockNotStarted(
                f"{accept.timer} still running at a reply after its deadline: its acceptance "
                "may still be on its way; retrying"
            )

    async def _accept_clock(self, order_id: str) -> Timer:
        accept = await self.timers.get(timer_id(order_id, ACCEPT))
        if accept is None:
            raise ClockNotStarted(f"no clock for order {order_id} yet; retrying")
        return accept

    async def _settle(self, timer: Timer, at: datetime, cause: Cause, *, how: str) -> None:
        async def step(current: Timer) -> bool:
            settlement = settle(current.state, at, current.due_at)
            if settlement is Settlement.ALREADY_SETTLED:
                log.info(
                    "sla_clock_already_settled",
                    timer=current.timer,
                    state=current.state.value,
                    how=how,
                )
                return True
            now = self.clock.now()
            change, events = settled(current, settlement, at, now)
            if not await self._apply(current, change, events, now, cause):
                return False
            log.info(
                "sla_clock_settled",
                order_id=current.order_id,
                clock=current.clock,
                department=current.department,
                settlement=settlement.value,
                how=how,
            )
            return True

        await self._until_applied(timer.timer, timer, step)

    async def _apply(
        self,
        timer: Timer,
        change: TimerChange,
        events: list[SlaEvent],
        now: datetime,
        cause: Cause,
    ) -> bool:
        outgoing = [self._outgoing(event, timer.timer, now, cause) for event in events]
        return await self.timers.apply(timer, change, outgoing, now)

    # --- rejection: the unit's accept clock stops; the share's complete clock runs on --------

    async def stop_by_rejection(self, event: CaseRejected, cause: Cause) -> None:
        accept = await self._accept_clock(event.order_id)
        if event.accepted_at is not None:
            # An accepted order rejected later: the acceptance judges the accept clock, even
            # when this rejection overtook its case.accepted; the rejection then finds it settled.
            await self._settle(accept, event.accepted_at, cause, how="accepted")
            accept = await self._accept_clock(event.order_id)
        # Otherwise the unit rejected without accepting, and the rejection's time judges the
        # clock at once. (This waited through the retry tiers, WAIT_FOR_EARLIER_SECONDS, for an
        # acceptance that never comes: breaches of late rejections were five minutes late.)

        async def step(current: Timer) -> bool:
            outcome = reject(current.state, event.rejected_at, current.due_at)
            if outcome is Rejection.ALREADY_SETTLED:
                log.info("sla_clock_already_settled", timer=current.timer, how="rejected")
                return True
            now = self.clock.now()
            change, events = rejected(current, outcome, event.rejected_at, event.reason_code, now)
            if not await self._apply(current, change, events, now, cause):
                return False
            log.info(
                "sla_clock_stopped_by_rejection",
                order_id=event.order_id,
                department=event.department,
                outcome=outcome.value,
            )
            return True

        await self._until_applied(accept.timer, accept, step)

    # --- extension: the share's complete-by moves ---------------------------------------------

    async def move_deadline(self, event: CaseExtended, cause: Cause) -> None:
        accept = await self._accept_clock(event.order_id)
        timer = accept.complete_timer
        if timer is None:  # pragma: no cover - every accept clock names its share's
            log.warning("sla_extension_of_a_share_held_elsewhere", order_id=event.order_id)
            return

        async def step(current: Timer) -> bool:
            if current.order_id != event.order_id:
                log.warning("sla_extension_of_a_share_held_elsewhere", order_id=event.order_id)
                return True
            outcome = extension(
                current.state, event.extended_at, current.last_extended_at, current.due_at
            )
            if outcome is Extension.IGNORED:
                log.info("sla_extension_ignored", timer=timer, state=current.state.value)
                return True
            now = self.clock.now()
            change = extended(
                current,
                outcome,
                extended_at=event.extended_at,
                complete_by=event.complete_by,
                policy=self.policy,
                now=now,
            )
            if not await self._apply(current, change, [], now, cause):
                return False
            if change.next_at is not None:
                self.armed(change.next_at)
            log.info(
                "sla_deadline_extended",
                order_id=event.order_id,
                department=event.department,
                outcome=outcome.value,
                complete_by=event.complete_by.isoformat(),
            )
            return True

        await self._until_applied(
            timer, None, step, missing="sla_extension_of_a_share_held_elsewhere"
        )

    # --- closing: every clock of the case stops -----------------------------------------------

    async def close_case(self, event: CaseClosed, cause: Cause) -> None:
        # A case closes only after its completion: a clock still open here is one whose
        # acceptance or completion is still on its way, not one to stop without a verdict.
        await self._settled_first(event.case_id, event.closed_at, cause)
        await self._stop_case(event.case_id, "case_closed", event.closed_at)

    async def _settled_first(
        self, case_id: str, at: datetime, cause: Cause, other_than: str = ""
    ) -> None:
        if cause.last_attempt:
            return
        open_clocks = await self.timers.open_clocks_of_case(case_id, at, other_than)
        if open_clocks:
            raise ClockNotStarted(
                f"{len(open_clocks)} clock(s) of case {case_id} still open: their acceptance or "
                "completion has not been handled yet; retrying"
            )

    async def _stop_case(self, case_id: str, reason: str, at: datetime) -> None:
        stopped = await self.timers.stop_case(case_id, reason, at, self.clock.now())
        if stopped:
            log.info("sla_case_clocks_stopped", case_id=case_id, reason=reason, stopped=stopped)

    async def _until_applied(
        self,
        timer: str,
        current: Timer | None,
        step: Callable[[Timer], Awaitable[bool]],
        *,
        missing: str | None = None,
    ) -> None:
        """Optimistic concurrency, once for every handler: `step` decides from the clock as read
        and writes only if the clock is unchanged since (True: done, or nothing to do; False:
        another writer got there first). A lost race reads the clock again, `MAX_PASSES` times.
        `current` is the clock already read, if any; a clock that is gone is logged as
        `missing` (or ignored: timers are never deleted)."""
        for _ in range(MAX_PASSES):
            if current is None:
                current = await self.timers.get(timer)
                if current is None:
                    if missing:
                        log.warning(missing, timer=timer)
                    return
            if await step(current):
                return
            current = None
        raise ClockKeptChanging(f"clock {timer} kept changing; retrying the message")

    def _outgoing(self, event: SlaEvent, timer: str, now: datetime, cause: Cause) -> Outgoing:
        return sla_outgoing(
            event,
            timer,
            now,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
        )
