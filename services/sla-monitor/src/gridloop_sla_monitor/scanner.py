"""The timer scan: in the partitions this replica leases, announce every warning and breach due."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from gridloop_common.clock import Clock, SystemClock
from gridloop_common.runtime import InboxState
from gridloop_sla_monitor.clocks import judged_until
from gridloop_sla_monitor.evidence import MemberBeat, Probe, confirmed_until
from gridloop_sla_monitor.outgoing import sla_outgoing
from gridloop_sla_monitor.repository import TimerRepository
from gridloop_sla_monitor.timer import Timer, claimed

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
    What a replica holds in hand does not count as waiting: a probe counts once every other live
    replica has beaten since, and the verdicts stay before the earliest event held (`evidence`).
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
        replica: str = "",
        members: Callable[[], Sequence[MemberBeat]] = lambda: (),
        holding: Callable[[], datetime | None] = lambda: None,
        wall: Clock | None = None,
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
        self._scheduled: dict[str, Timer] = {}
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
        self._replica = replica
        self._members = members
        self._holding = holding
        # Heartbeats are on the wall clock (`LeaseKeeper`), SLA time on `clock`.
        self._wall = wall or SystemClock()
        self._probes: deque[Probe] = deque()

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
        # The watermark before the inbox: what dispatch had published by then is, at the probe,
        # waiting, held by a replica, or handled.
        published_until = await self._dispatch_published_until(now)
        state = await self._inbox()
        checked_at = self._wall.now()
        now = self.clock.now()
        candidate = judged_until(
            None,
            now,
            state.consuming_since,
            state.caught_up,
            self._grace,
            dispatch_published_until=published_until,
        )
        if candidate is not None:
            self._probes.append(Probe(checked_at, candidate))
        self._judged = confirmed_until(
            self._judged,
            self._probes,
            self._members(),
            me=self._replica,
            wall_now=self._wall.now(),
            holding_here=self._holding(),
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
        scheduled: dict[str, Timer] = {}
        full = False
        # All partitions at once: marks falling due meanwhile wait for the slowest read only.
        reads = await asyncio.gather(
            *(self.timers.upcoming(p, horizon, self.batch) for p in self._owned())
        )
        for timers in reads:
            if len(timers) == self.batch and timers[-1].next_at is not None:
                # Truncated: this partition is only known up to its last mark read.
                full = True
                horizon = min(horizon, timers[-1].next_at)
            for timer in timers:
                scheduled[timer.timer] = timer
        self._scheduled = scheduled
        self._heap = [(t.next_at, key) for key, t in scheduled.items() if t.next_at is not None]
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
            round_: list[Timer] = []
            while self._heap and self._heap[0][0] <= judged and len(round_) < self._round:
                _, key = heapq.heappop(self._heap)
                timer = self._scheduled.pop(key, None)
                # A partition lost since the read is another replica's now.
                if timer is not None and timer.partition in owned:
                    round_.append(timer)
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

    async def _fire_limited(self, timer: Timer, now: datetime, judged: datetime) -> bool:
        async with self._concurrency:
            return await self.fire(timer, now, judged)

    async def fire(self, timer: Timer, now: datetime, judged: datetime | None = None) -> bool:
        """Claim the most severe mark `timer` has passed by `judged` (default: now), its event
        stored in the timer's outbox by the same update and handed to the relay; False if
        another writer changed the clock first."""
        claim = claimed(timer, judged or now, now)
        if claim is None:
            return False
        outgoing = sla_outgoing(claim.event, timer.timer, now, correlation_id=timer.correlation_id)
        # The claim: still running, at the same mark, with the same deadline (which fix the
        # next mark). Whoever changed any of them first (another replica, an acceptance, an
        # extension) wins.
        if not await self.timers.apply(timer, claim.change, [outgoing], now):
            return False
        announced = claim.crossing.announce
        log.info(
            "sla_breached" if announced.is_deadline else "sla_warning",
            order_id=timer.order_id,
            case_id=timer.case_id,
            clock=timer.clock,
            department=timer.department,
            threshold=announced.threshold,
            skipped=len(claim.crossing.skipped),
            late_seconds=round((now - announced.at).total_seconds(), 3),
        )
        return True
