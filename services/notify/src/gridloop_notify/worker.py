"""Batch workers claim a due batch, send, store outcomes as they come and give it back."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from gridloop_common.clock import Clock
from gridloop_notify.channels import Channel, Outbound
from gridloop_notify.delivery import (
    LANES,
    Counts,
    Delivery,
    Outcome,
    RetryPolicy,
    apply_outcome,
    count,
    is_due,
    next_due,
)
from gridloop_notify.ratelimit import ChannelGate
from gridloop_notify.repository import (
    BatchRepository,
    NoticeContent,
    NoticeProgress,
    NoticeRepository,
)

log = structlog.stdlib.get_logger("gridloop.notify.worker")

# Due batches a sweep takes per lane before moving on: the next sweep comes as soon as workers
# are free, so a long lane does not hold the others up.
_CLAIM_CANDIDATES = 4
# Due batches the first find of a sweep takes from all lanes at once (see DueBatches.sweep).
_ANY_LANE_CANDIDATES = LANES * _CLAIM_CANDIDATES
# Notices whose words a replica keeps: more than the notices its handlers store ahead of its
# workers in a backlog (reporter notices, one batch each, a few hundred bytes).
_NOTICE_CACHE = 4_096


class Wakeup:
    """Lets whoever stored new work wake idle workers at once instead of at their next poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def poke(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancel that arrives as
        # the event is set (CPython gh-86296), and a worker that missed its shutdown runs on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        self._event.clear()


@dataclass
class DueBatches:
    """One scanner per replica finds due batches lane by lane and hands their ids to the
    replica's workers. Idle, that is one sweep of the lanes per poll for the whole replica:
    when each worker swept the lanes itself, eight idle workers made 128 finds a second per
    replica, and the stand-in spent its time answering them. The queue holds one id per worker:
    while every worker is busy the scanner waits instead of sweeping."""

    batches: BatchRepository
    clock: Clock
    wakeup: Wakeup
    poll_seconds: float
    capacity: int
    # Replicas start their sweeps on different lanes, so they seldom race for one batch.
    first_lane: int = field(default_factory=lambda: random.randrange(LANES))  # noqa: S311
    _queue: asyncio.Queue[str] = field(init=False)
    _queued: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.capacity)

    async def run(self) -> None:
        while True:
            found, saw_every_due = await self._sweep()
            # Sweep again at once only when due batches may have been left behind; otherwise
            # until new work wakes the scanner (every stored batch does) or the poll.
            if saw_every_due or not found:
                await self.wakeup.wait(self.poll_seconds)

    async def sweep(self) -> int:
        """Queue every due batch not queued yet; how many were new."""
        found, _ = await self._sweep()
        return found

    async def _sweep(self) -> tuple[int, bool]:
        """How many due batches were new, and whether the sweep saw every due batch.

        One find over every lane first: when it comes back short, it holds every due batch,
        and the lanes (one find each) would only find them again. A reporter notice woke a
        sweep of sixteen empty lanes, and most of notify's commands were these finds. Only
        when more are due than that find takes does the sweep go lane by lane, so that a
        broadcast's hundreds of batches do not hold up a reporter's one."""
        now = self.clock.now()
        due = await self.batches.due_in_any_lane(now, _ANY_LANE_CANDIDATES)
        if len(due) < _ANY_LANE_CANDIDATES:
            return await self._queue_new(due), True
        found = 0
        for step in range(LANES):
            lane = (self.first_lane + step) % LANES
            found += await self._queue_new(
                await self.batches.due(lane, self.clock.now(), _CLAIM_CANDIDATES)
            )
        return found, False

    async def _queue_new(self, batch_ids: list[str]) -> int:
        found = 0
        for batch_id in batch_ids:
            if batch_id in self._queued:
                continue
            self._queued.add(batch_id)
            await self._queue.put(batch_id)
            found += 1
        return found

    async def next(self) -> str:
        """A due batch's id, perhaps claimed meanwhile by another replica: the claim says."""
        batch_id = await self._queue.get()
        self._queued.discard(batch_id)
        return batch_id


class NoticeContents:
    """What recent notices say, kept for the replica's workers: every batch of a broadcast
    sends the same text, read once instead of once per batch (the last `_NOTICE_CACHE`)."""

    def __init__(self, notices: NoticeRepository) -> None:
        self._notices = notices
        self._recent: OrderedDict[str, NoticeContent] = OrderedDict()

    def remember(self, notice_id: str, content: NoticeContent) -> None:
        """A notice this replica just stored: its batch need not read back what it says."""
        self._recent[notice_id] = content
        while len(self._recent) > _NOTICE_CACHE:
            self._recent.popitem(last=False)

    async def get(self, notice_id: str) -> NoticeContent | None:
        cached = self._recent.get(notice_id)
        if cached is not None:
            self._recent.move_to_end(notice_id)
            return cached
        found = await self._notices.content(notice_id)
        if found is not None:
            self.remember(notice_id, found)
        return found


class LeaseLost(Exception):
    """Another worker owns the batch now: stop sending, store nothing more."""


@dataclass
class Completion:
    """Closes a notice once all its batches are: exact totals recounted from the batches."""

    notices: NoticeRepository
    batches: BatchRepository
    clock: Clock

    async def check(
        self, notice: NoticeProgress | None, closed_batch: tuple[str, Counts] | None = None
    ) -> bool:
        """Complete the notice if every batch is closed. `closed_batch` (its channel and
        counts) is the batch whose release this follows: a notice of that one batch alone
        (every reporter notice) needs no recount, its counts are the notice's totals."""
        if notice is None or not notice.every_batch_closed:
            return False
        if closed_batch is not None and notice.batches_total == 1:
            channel, counts = closed_batch
            return await self._store_totals(notice.notice_id, counts, {channel: counts})
        return await self.complete(notice.notice_id, notice.batches_total)

    async def check_quiet(self, notice_id: str) -> bool:
        """For a notice with no recent progress: maybe a crash lost a `batches_closed` count, or a
        worker sent a whole batch and never gave it back (closed here, counted once)."""
        notice = await self.notices.progress(notice_id)
        if notice is None or not notice.sending:
            return False
        closed = 0
        for batch_id in await self.batches.open_but_settled(notice_id):
            if await self.batches.close_settled(batch_id):
                closed += 1
                await self.notices.batch_closed(notice_id, self.clock.now())
        if closed:
            log.warning("settled_batches_closed", notice_id=notice_id, batches=closed)
        if await self.batches.any_open(notice_id):
            # Still waiting for retries; look again after another quiet spell.
            await self.notices.touch(notice_id, self.clock.now())
            return False
        return await self.complete(notice_id, notice.batches_total)

    async def complete(self, notice_id: str, batches_total: int) -> bool:
        totals = Counts()
        by_channel: dict[str, Counts] = {}
        async for channel, counts in self.batches.tally(notice_id, batches_total):
            totals = totals.plus(counts)
            by_channel[channel] = by_channel.get(channel, Counts()).plus(counts)
        return await self._store_totals(notice_id, totals, by_channel)

    async def _store_totals(
        self, notice_id: str, totals: Counts, by_channel: Mapping[str, Counts]
    ) -> bool:
        done = await self.notices.complete(
            notice_id,
            _settled_only(totals.as_dict()),
            {channel: _settled_only(c.as_dict()) for channel, c in by_channel.items()},
            self.clock.now(),
        )
        if done:
            log.info("notice_completed", notice_id=notice_id, **totals.as_dict())
        return done


def _settled_only(counts: Mapping[str, int]) -> dict[str, int]:
    return {status: n for status, n in counts.items() if status != "pending"}


@dataclass
class _Batch:
    """A claimed batch in memory; entries are replaced, never changed in place, so a flush can
    store a snapshot while sends go on."""

    batch_id: str
    notice_id: str
    channel: str
    token: str
    entries: list[Delivery]
    stored: Counts
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class BatchWorker:
    """A batch is claimed by setting its `owner` and pushing its `due_at` one lease ahead, in one
    conditional update; every flush renews the lease and fails once another worker took over.
    After a crash the lease runs out and any worker resumes the batch: deliveries stored as
    settled are never sent again; those sent after the last flush go again, with the same key."""

    feed: DueBatches
    batches: BatchRepository
    notices: NoticeRepository
    completion: Completion
    channels: Mapping[str, Channel]
    gates: Mapping[str, ChannelGate]
    policy: RetryPolicy
    clock: Clock
    lease: timedelta
    flush_seconds: float
    # Shared by the replica's workers; one of their own when not given.
    contents: NoticeContents | None = None
    jitter: Callable[[], float] = random.random
    # Called with (channel, outcome kind) after every send: the service's Prometheus counter.
    observe: Callable[[str, str], None] = lambda _channel, _kind: None

    def __post_init__(self) -> None:
        if self.contents is None:
            self.contents = NoticeContents(self.notices)

    async def run(self) -> None:
        while True:
            claimed = await self.claim(await self.feed.next())
            if claimed is not None:
                await self.work(claimed)

    async def claim(self, batch_id: str) -> _Batch | None:
        """The batch, for this worker alone; None when another worker or replica has it."""
        now = self.clock.now()
        token = uuid.uuid4().hex
        claimed = await self.batches.claim(batch_id, token, now, now + self.lease)
        if claimed is None:
            return None
        return _Batch(
            batch_id=claimed.batch_id,
            notice_id=claimed.notice_id,
            channel=claimed.channel,
            token=token,
            entries=list(claimed.entries),
            stored=count(claimed.entries),
        )

    async def work(self, batch: _Batch) -> None:
        bound = log.bind(batch_id=batch.batch_id, notice_id=batch.notice_id, channel=batch.channel)
        try:
            notice = await self._notice(batch.notice_id)
            now = self.clock.now()
            due = [i for i, entry in enumerate(batch.entries) if is_due(entry, now)]
            channel = self.channels.get(batch.channel)
            if notice is None or channel is None:
                reason = (
                    "the notice is gone"
                    if notice is None
                    else f"the {batch.channel} channel is not configured"
                )
                for i in due:
                    batch.entries[i] = apply_outcome(
                        batch.entries[i], Outcome.failed(reason), now, self.policy, 0.0
                    )
            elif due:
                await self._send_all(batch, notice, channel, due)
            await self._release(batch)
        except LeaseLost:
            bound.warning("batch_lease_lost")
        except asyncio.CancelledError:
            # Shutting down: hand the batch back at once instead of at the end of its lease.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(batch, give_back=True))
            raise

    async def _send_all(
        self, batch: _Batch, notice: NoticeContent, channel: Channel, due: list[int]
    ) -> None:
        gate = self.gates[batch.channel]

        async def send(i: int) -> None:
            entry = batch.entries[i]
            message = Outbound(
                delivery_id=entry.delivery_id,
                notice_id=batch.notice_id,
                kind=notice.kind,
                recipient_id=entry.recipient_id,
                address=entry.address or "",
                title=notice.title,
                text=notice.text,
                data=dict(notice.data),
                secret_ref=entry.secret_ref,
            )
            async with gate.slot():
                try:
                    outcome = await channel.send(message)
                except Exception as error:
                    # A bug in an adapter, not a receiver's answer: retried like a timeout. The
                    # type only: an adapter's exception text may quote an address or a URL.
                    log.error("channel_error", channel=batch.channel, error=type(error).__name__)
                    outcome = Outcome.retry(f"channel error: {type(error).__name__}")
            self.observe(batch.channel, outcome.kind)
            batch.entries[i] = apply_outcome(
                entry, outcome, self.clock.now(), self.policy, self.jitter()
            )

        # The flusher stops when told, not only when cancelled: on Python 3.11 a cancel that lands
        # as a database write completes is lost inside pymongo (its asyncio.wait_for, CPython
        # gh-86296; 4 in 300 cancels in a loop against the stand-in). A flusher that missed it
        # renewed the lease of a fully sent batch for ever, and `gather` below never returned:
        # the batch was never given back and its notice never completed.
        stopping = asyncio.Event()

        async def flush_every_interval() -> None:
            while not stopping.is_set():
                await asyncio.sleep(self.flush_seconds)
                if stopping.is_set():
                    return
                await self._flush(batch)

        flusher = asyncio.create_task(flush_every_interval())
        sending: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(send(i) for i in due))
        )
        watched: set[asyncio.Future[Any]] = {flusher, sending}
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.set()
            for task in (flusher, sending):
                task.cancel()
            await asyncio.gather(flusher, sending, return_exceptions=True)
        error = None if flusher.cancelled() else flusher.exception()
        if error is not None:
            # LeaseLost: another worker owns the batch; what was sent since the last flush it
            # will send again, under the same keys.
            raise error
        sending.result()

    async def _flush(self, batch: _Batch) -> None:
        async with batch.lock:
            snapshot = list(batch.entries)
            counts = count(snapshot)
            until = self.clock.now() + self.lease
            if not await self.batches.flush(batch.batch_id, batch.token, snapshot, counts, until):
                raise LeaseLost(batch.batch_id)
            await self._count(batch, counts)

    async def _release(self, batch: _Batch, give_back: bool = False) -> None:
        async with batch.lock:
            snapshot = list(batch.entries)
            counts = count(snapshot)
            now = self.clock.now()
            due_at = now if give_back else next_due(snapshot, now)
            if not await self.batches.release(
                batch.batch_id, batch.token, snapshot, counts, due_at
            ):
                raise LeaseLost(batch.batch_id)
            if due_at is not None:
                await self._count(batch, counts)
                return
            notice = await self.notices.batch_closed(
                batch.notice_id, now, batch.channel, self._new_outcomes(batch, counts)
            )
        await self.completion.check(notice, (batch.channel, counts))

    def _new_outcomes(self, batch: _Batch, counts: Counts) -> dict[str, int]:
        """What the running totals have not counted yet; they count it with this write."""
        delta = counts.minus(batch.stored)
        batch.stored = counts
        return delta

    async def _count(self, batch: _Batch, counts: Counts) -> None:
        delta = self._new_outcomes(batch, counts)
        await self.notices.add_counts(batch.notice_id, batch.channel, delta, self.clock.now())

    async def _notice(self, notice_id: str) -> NoticeContent | None:
        assert self.contents is not None  # set in __post_init__
        return await self.contents.get(notice_id)
