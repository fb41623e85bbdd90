"""The timer scan: in the partitions this replica leases, announce every warning and breach due."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import SlaEvent
from gridloop_common.mongo import Document
from gridloop_common.runtime import InboxState
from gridloop_sla_monitor.clocks import (
    TimerState,
    Verdict,
    breach_event,
    crossing,
    judged_until,
    next_mark,
    warning_event,
)
from gridloop_sla_monitor.outgoing import sla_outgoing
from gridloop_sla_monitor.repository import TimerRepository, facts_of, marks_of, verdict_fields

log = structlog.stdlib.get_logger("gridloop.sla_monitor")


@dataclass(frozen=True)
class ScanResult:
    fired: int
    # The earliest mark known within the horizon and not yet due: the scan sleeps until then.
    next_due: datetime | None
    # A partition had more marks within the horizon than one read returns: read again at once.
    full: bool


class TimerScanner:
    """One per replica. Leases decide which partitions it reads; the conditional update in
    `fire` decides, per clock and mark, which replica announces it (exactly one).

    Once a tick it reads, per leased partition, the marks due within the next tick (an indexed,
    narrow query: the stand-in decodes every document a query matches), keeps them in a heap,
    and sleeps until the earliest. So a mark is announced when it falls due, not up to a tick
    later, and the database is asked once per tick however many marks fall due. An entry that
    went stale meanwhile (accepted, extended, fired by another replica) fails its claim.

    A mark is judged `grace` after it falls due, and only once the consumer is caught up
    (`clocks.judged_until`): an acceptance made in time but still on its way (in dispatch's
    outbox through a broker outage, in this inbox after a restart) is heard before the verdict.
    Without an `inbox` probe (unit tests) every mark is judged when due.
    """

    def __init__(
        self,
        timers: TimerRepository,
        clock: Clock,
        owned: Callable[[], Sequence[int]],
        *,
        tick_seconds: float,
        batch: int,
        concurrency: int,
        inbox: Callable[[], Awaitable[InboxState]] | None = None,
        grace: timedelta = timedelta(0),
        watermark: Callable[[], Awaitable[datetime | None]] | None = None,
        watermark_patience: timedelta = timedelta(minutes=10),
    ) -> None:
        self.timers = timers
        self.clock = clock
        self._owned = owned
        self.tick_seconds = tick_seconds
        self.batch = batch
        self._concurrency = asyncio.Semaphore(concurrency)
        # Marks claimed per round: a mark falling due meanwhile waits for one round at most.
        self._round = max(1, 2 * concurrency)
        self._wake = asyncio.Event()
        self._heap: list[tuple[datetime, str]] = []
        self._scheduled: dict[str, Document] = {}
        self._horizon: datetime | None = None
        self._refresh_at = 0.0  # monotonic
        self._refresh_requested = True
        self._full = False
        self._inbox = inbox
        self._grace = grace
        self._watermark = watermark
        self._patience = watermark_patience
        self._judged: datetime | None = None
        self._inbox_checked_at = 0.0  # monotonic

    def nudge(self, at: datetime | None = None) -> None:
        """A clock was armed or moved to `at`, or the leases changed (None): if it falls within
        what the scan has read, read again now. Cheap; called from any task."""
        if at is None or self._horizon is None or at <= self._horizon:
            self._refresh_requested = True
            self._wake.set()

    async def run(self) -> None:
        while True:
            if self._refresh_requested or time.monotonic() >= self._refresh_at:
                await self.refresh()
            await self._judge()
            await self.fire_due()
            await self._sleep()

    async def _judge(self) -> None:
        """Move the judged moment on, asking the broker about the inbox at most every 0.2 s."""
        now = self.clock.now()
        if self._inbox is None:
            self._judged = now
            return
        if not self._heap or self._heap[0][0] > now - self._grace:
            return  # nothing could be judged yet: spare the broker the question
        if time.monotonic() - self._inbox_checked_at < 0.2:
            return
        self._inbox_checked_at = time.monotonic()
        state = await self._inbox()
        now = self.clock.now()
        self._judged = judged_until(
            self._judged,
            now,
            state.consuming_since,
            state.caught_up,
            self._grace,
            dispatch_published_until=await self._dispatch_published_until(now),
        )

    async def _dispatch_published_until(self, now: datetime) -> datetime | None:
        """Dispatch's watermark; none (judge without it) if dispatch has been silent longer
        than the patience: a dispatch that never announces must not silence every breach."""
        if self._watermark is None:
            return None
        until = await self._watermark()
        if until is None or until < now - self._patience:
            if until is not None:
                log.warning("sla_dispatch_watermark_stale", published_until=until.isoformat())
            return None
        return until

    async def scan_once(self) -> ScanResult:
        """Read the schedule afresh and fire everything due by now."""
        await self.refresh()
        await self._judge()
        fired = await self.fire_due()
        return ScanResult(fired, self._heap[0][0] if self._heap else None, self._full)

    async def refresh(self) -> None:
        """Read the marks due within a tick from each leased partition, earliest first."""
        self._refresh_requested = False
        self._refresh_at = time.monotonic() + self.tick_seconds
        now = self.clock.now()
        horizon = now + timedelta(seconds=self.tick_seconds)
        scheduled: dict[str, Document] = {}
        full = False
        # All partitions at once: marks falling due meanwhile wait for the slowest read only.
        reads = await asyncio.gather(
            *(self.timers.upcoming(p, horizon, self.batch) for p in self._owned())
        )
        for documents in reads:
            if len(documents) == self.batch:
                # Truncated: this partition is only known up to its last mark read.
                full = True
                horizon = min(horizon, documents[-1]["next_at"])
            for document in documents:
                scheduled[document["_id"]] = document
        self._scheduled = scheduled
        self._heap = [(d["next_at"], timer) for timer, d in scheduled.items()]
        heapq.heapify(self._heap)
        self._horizon = horizon
        self._full = full
        if full:
            # Read on once the scan reaches the last mark it knows of (at once in a backlog).
            self._refresh_at = time.monotonic() + max(0.0, (horizon - now).total_seconds())

    def _due_now(self) -> bool:
        return bool(self._heap) and self._judged is not None and self._heap[0][0] <= self._judged

    async def fire_due(self) -> int:
        """Claim every scheduled mark judged due, a round at a time (the relay publishes)."""
        fired = 0
        owned = set(self._owned())
        while self._due_now():
            assert self._judged is not None
            judged = self._judged
            round_: list[Document] = []
            while self._heap and self._heap[0][0] <= judged and len(round_) < self._round:
                _, timer = heapq.heappop(self._heap)
                document = self._scheduled.pop(timer, None)
                # A partition lost since the read is another replica's now.
                if document is not None and document["partition"] in owned:
                    round_.append(document)
            now = self.clock.now()
            outcomes = await asyncio.gather(*(self._fire_limited(d, now, judged) for d in round_))
            fired += sum(outcomes)
        return fired

    async def _sleep(self) -> None:
        delay = max(0.0, self._refresh_at - time.monotonic())
        if self._heap:
            until_due = (self._heap[0][0] + self._grace - self.clock.now()).total_seconds()
            # Due but not judged yet (the consumer behind): look again shortly, not at once.
            delay = min(delay, max(0.2 if until_due <= 0 and self._inbox else 0.0, until_due))
        self._wake.clear()
        if self._refresh_requested:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _fire_limited(self, document: Document, now: datetime, judged: datetime) -> bool:
        async with self._concurrency:
            return await self.fire(document, now, judged)

    async def fire(self, document: Document, now: datetime, judged: datetime | None = None) -> bool:
        """Claim the most severe mark `document` has passed by `judged` (default: now), its
        event stored in the timer's outbox by the same update and handed to the relay; False if
        another writer changed the clock first."""
        timer: str = document["_id"]
        marks = marks_of(document)
        passed: int = document.get("passed", 0)
        cross = crossing(marks, passed, judged or now)
        if cross is None:
            return False
        facts = facts_of(document)
        following = next_mark(marks, cross.passed)
        fields: Document = {"passed": cross.passed, "marks.$[announced].fired_at": now}
        filters: list[Document] = [{"announced.threshold": cross.announce.threshold}]
        if cross.skipped:
            fields["marks.$[skipped].skipped"] = True
            filters.append({"skipped.threshold": {"$in": [m.threshold for m in cross.skipped]}})
        event: SlaEvent
        if cross.announce.is_deadline:
            breach = breach_event(facts, fired_at=now, late_at=now)
            event = breach
            fields |= {
                "state": TimerState.BREACHED.value,
                "fired_at": now,
                "late_seconds": breach.late_seconds,
                **verdict_fields(Verdict.LATE, facts.due_at, facts.department),
            }
        else:
            event = warning_event(facts, cross.announce, now)
        if following is not None:
            fields["next_at"] = following.at
        outgoing = sla_outgoing(event, timer, now, correlation_id=document.get("correlation_id"))
        claimed = await self.timers.transition(
            timer,
            # The claim: still running, at the same mark, with the same deadline (which fix the
            # next mark). Whoever changed any of them first (another replica, an acceptance,
            # an extension) wins.
            {"state": TimerState.RUNNING.value, "passed": passed, "due_at": facts.due_at},
            fields,
            [outgoing],
            now,
            unset=() if following is not None else ("next_at",),
            array_filters=filters,
        )
        if not claimed:
            return False
        log.info(
            "sla_breached" if cross.announce.is_deadline else "sla_warning",
            order_id=facts.order_id,
            case_id=facts.case_id,
            clock=facts.clock,
            department=facts.department,
            threshold=cross.announce.threshold,
            skipped=len(cross.skipped),
            late_seconds=round((now - cross.announce.at).total_seconds(), 3),
        )
        return True
