"""The breach scan: each tick, claim running clocks past their deadline and announce the breach."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog

from gridloop_common.clock import Clock
from gridloop_common.mongo import Document
from gridloop_sla_monitor.clocks import TimerState, breach_event
from gridloop_sla_monitor.outgoing import sla_outgoing
from gridloop_sla_monitor.repository import TimerRepository, facts_of

log = structlog.stdlib.get_logger("gridloop.sla_monitor")


@dataclass(frozen=True)
class BreachScanner:
    """Every replica scans; the conditional update in `fire` lets exactly one of them fire."""

    timers: TimerRepository
    clock: Clock
    tick_seconds: float
    batch: int

    async def run(self) -> None:
        while True:
            fired = await self.scan_once()
            # A full batch means more may be waiting: scan again at once instead of a tick later.
            if fired < self.batch:
                await asyncio.sleep(self.tick_seconds)

    async def scan_once(self) -> int:
        """Fire every clock due by now (up to a batch); returns how many this replica fired."""
        now = self.clock.now()
        fired = 0
        for document in await self.timers.due(now, self.batch):
            if await self.fire(document, now):
                fired += 1
        return fired

    async def fire(self, document: Document, now: datetime) -> bool:
        timer: str = document["_id"]
        facts = facts_of(document)
        event = breach_event(facts, fired_at=now, late_at=now)
        outgoing = sla_outgoing(event, timer, now, correlation_id=document.get("correlation_id"))
        claimed = await self.timers.transition(
            timer,
            # The deadline is part of the claim so a clock moved meanwhile is not fired early.
            {"state": TimerState.RUNNING.value, "due_at": facts.due_at},
            {
                "state": TimerState.BREACHED.value,
                "fired_at": now,
                "late_seconds": event.late_seconds,
            },
            [outgoing],
            now,
        )
        if claimed:
            log.info(
                "sla_breached",
                order_id=facts.order_id,
                case_id=facts.case_id,
                clock=facts.clock,
                department=facts.department,
                late_seconds=event.late_seconds,
            )
        return claimed
