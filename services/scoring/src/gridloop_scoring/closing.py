"""Closing periods: once a month, quarter or year is over (plus a grace for late events), its
commendations are computed and `scoring.period_closed` is published for notify to announce.

The closing is one conditional update of the period's document (`closed: false` → `true`) that
also stores the event in the document's outbox: two replicas closing at once publish once, and a
crash after the update still publishes (the relay's sweep finds the outbox).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import ScoringPeriodClosed
from gridloop_common.envelope import derived_id
from gridloop_common.messaging import envelope
from gridloop_common.periods import Period, months_of
from gridloop_scoring.commendations import excellent_cases, top_performers
from gridloop_scoring.levels import LEVELS
from gridloop_scoring.orders import fold_orders
from gridloop_scoring.repository import (
    DirtyQueue,
    FactStore,
    FigureStore,
    HandledCount,
    PeriodStore,
)

log = structlog.stdlib.get_logger("gridloop.scoring.closing")


@dataclass
class PeriodCloser:
    periods: PeriodStore
    dirty: DirtyQueue
    facts: FactStore
    figures: FigureStore
    clock: Clock
    excellent_cases: int
    top_performers: int
    interval_seconds: float = 60.0

    async def run(self) -> None:
        while True:
            await self.close_due()
            await asyncio.sleep(self.interval_seconds)

    async def close_due(self) -> list[str]:
        closed: list[str] = []
        if await self.facts.unmarked_count():
            return closed  # new facts not yet marked: any period may still change
        for due in await self.periods.due(self.clock.now()):
            if await self.dirty.pending_within(due.period):
                continue  # its figures are being recomputed: commend on the final ones
            if await self.close(due.period, due.ends_at):
                closed.append(due.period.key)
        return closed

    async def commendations(self, period: Period) -> ScoringPeriodClosed:
        closings = await self.facts.of_kind("closed", months_of(period))
        satisfied_orders = {f.order_id for f in closings if f.order_id and f.satisfied is True}
        records = fold_orders(await self.facts.of_orders(satisfied_orders)).values()
        handled: dict[str, list[HandledCount]] = {
            level: await self.figures.handled_counts(level, period.key) for level in LEVELS
        }
        return ScoringPeriodClosed(
            period=period.key,
            granularity=period.granularity,
            closed_at=self.clock.now(),
            excellent_cases=tuple(excellent_cases(records, self.excellent_cases)),
            top_performers=tuple(top_performers(handled, self.top_performers)),
        )

    async def close(self, period: Period, ends_at: datetime) -> bool:
        event = await self.commendations(period)
        now = self.clock.now()
        outgoing = envelope(
            event,
            source="gridloop/scoring",
            time=now,
            event_id=derived_id("scoring-period-closed", period.key),
        )
        commendations = event.model_dump(mode="json", include={"excellent_cases", "top_performers"})
        if not await self.periods.close(period, commendations, outgoing, now):
            return False  # another replica closed it first
        log.info(
            "period_closed",
            period=period.key,
            ended_at=ends_at.isoformat(),
            excellent_cases=len(event.excellent_cases),
            top_performers=len(event.top_performers),
        )
        return True
