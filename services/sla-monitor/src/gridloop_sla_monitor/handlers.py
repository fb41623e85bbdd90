"""How sla-monitor reacts to case events: dispatch starts the accept clock, acceptance stops it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import CaseAccepted, CaseDispatched, SlaEvent
from gridloop_common.messaging import Delivery
from gridloop_common.mongo import Document
from gridloop_sla_monitor.clocks import (
    ACCEPT,
    ClockFacts,
    Settlement,
    TimerState,
    breach_event,
    met_event,
    settle_acceptance,
    timer_id,
)
from gridloop_sla_monitor.outgoing import sla_outgoing
from gridloop_sla_monitor.repository import (
    TimerRepository,
    accept_clock_start,
    facts_of,
    stopped_accept_clock,
)

log = structlog.stdlib.get_logger("gridloop.sla_monitor")

# Each pass either settles the clock or sees a state another writer just set; the states only
# move forward (absent → stopped/running → met/breached), so a few passes always suffice.
MAX_PASSES = 4


@dataclass(frozen=True)
class ClockHandlers:
    timers: TimerRepository
    clock: Clock

    async def on_dispatched(self, event: CaseDispatched, delivery: Delivery) -> None:
        timer = timer_id(event.order_id, ACCEPT)
        start = accept_clock_start(event, delivery.event_id, delivery.event.correlationid)
        if await self.timers.insert({"_id": timer, **start, "state": TimerState.RUNNING.value}):
            log.info(
                "sla_clock_started",
                order_id=event.order_id,
                clock=ACCEPT,
                department=event.department,
                due_at=event.accept_by.isoformat(),
            )
            return
        existing = await self.timers.get(timer)
        if existing is None or existing["state"] != TimerState.STOPPED:
            # A redelivered dispatch: the clock runs or has settled already, never rearm it.
            log.info("sla_clock_already_started", order_id=event.order_id, clock=ACCEPT)
            return
        # The acceptance overtook the dispatch: start the clock and settle it in one update.
        accepted_at: datetime = existing["accepted_at"]
        facts = facts_of({**existing, **start})
        settlement = settle_acceptance(TimerState.RUNNING, accepted_at, facts.due_at)
        await self._settle(
            timer,
            expected={"state": TimerState.STOPPED.value},
            facts=facts,
            settlement=settlement,
            accepted_at=accepted_at,
            delivery=delivery,
            extra=start,
        )

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        timer = timer_id(event.order_id, ACCEPT)
        for _ in range(MAX_PASSES):
            existing = await self.timers.get(timer)
            if existing is None:
                stopped = stopped_accept_clock(
                    event, delivery.event_id, delivery.event.correlationid
                )
                if await self.timers.insert(stopped):
                    log.info("sla_acceptance_before_dispatch", order_id=event.order_id)
                    return
                continue  # the dispatch landed meanwhile: settle against its clock
            state = TimerState(existing["state"])
            if state is TimerState.STOPPED:
                log.info("sla_acceptance_repeated", order_id=event.order_id, clock=ACCEPT)
                return
            settlement = settle_acceptance(state, event.accepted_at, existing["due_at"])
            if settlement is Settlement.ALREADY_SETTLED:
                log.info("sla_acceptance_repeated", order_id=event.order_id, clock=ACCEPT)
                return
            if settlement is Settlement.LATE_AFTER_BREACH:
                recorded = await self.timers.transition(
                    timer,
                    {"state": TimerState.BREACHED.value, "accepted_late_at": {"$exists": False}},
                    {"accepted_at": event.accepted_at, "accepted_late_at": event.accepted_at},
                    [],
                    self.clock.now(),
                )
                log.info(
                    "sla_late_acceptance_recorded" if recorded else "sla_acceptance_repeated",
                    order_id=event.order_id,
                    clock=ACCEPT,
                )
                return
            if await self._settle(
                timer,
                expected={"state": TimerState.RUNNING.value},
                facts=facts_of(existing),
                settlement=settlement,
                accepted_at=event.accepted_at,
                delivery=delivery,
            ):
                return
            # Lost to the breach scan or a concurrent copy of this message: look again.
        raise RuntimeError(f"accept clock {timer} kept changing; retrying the message")

    async def _settle(
        self,
        timer: str,
        *,
        expected: Document,
        facts: ClockFacts,
        settlement: Settlement,
        accepted_at: datetime,
        delivery: Delivery,
        extra: Document | None = None,
    ) -> bool:
        """Stop a clock with an acceptance: met in time, else breached now. True if we won."""
        now = self.clock.now()
        fields: Document = {**(extra or {}), "accepted_at": accepted_at}
        event: SlaEvent
        if settlement is Settlement.MET:
            event = met_event(facts, accepted_at)
            fields |= {"state": TimerState.MET.value, "met_at": accepted_at}
        else:
            breach = breach_event(facts, fired_at=now, late_at=accepted_at)
            event = breach
            fields |= {
                "state": TimerState.BREACHED.value,
                "fired_at": now,
                "late_seconds": breach.late_seconds,
                "accepted_late_at": accepted_at,
            }
        outgoing = sla_outgoing(
            event,
            timer,
            now,
            correlation_id=delivery.event.correlationid,
            causation_id=delivery.event_id,
        )
        if not await self.timers.transition(timer, expected, fields, [outgoing], now):
            return False
        log.info(
            "sla_met" if settlement is Settlement.MET else "sla_breached",
            order_id=facts.order_id,
            clock=facts.clock,
            department=facts.department,
        )
        return True
