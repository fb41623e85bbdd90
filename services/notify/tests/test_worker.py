"""A batch worker gives its batch back once every delivery is sent, whatever its flusher missed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from gridloop_common.clock import ManualClock
from gridloop_notify.channels import Outbound
from gridloop_notify.delivery import (
    DELIVERED,
    LANES,
    Counts,
    Delivery,
    Outcome,
    Recipient,
    RetryPolicy,
)
from gridloop_notify.delivery import new_entry as make_entry
from gridloop_notify.ratelimit import ChannelGate
from gridloop_notify.repository import SENDING, ClaimedBatch, NoticeContent, NoticeProgress
from gridloop_notify.worker import BatchWorker, Completion, DueBatches, Wakeup

NOTICE = "N-test-worker"
BATCH = f"{NOTICE}.000000"


class LossyFlushBatches:
    """The batch store, except that the first flush is still in flight when the sends end and
    then swallows its cancel, as pymongo's asyncio.wait_for does on Python 3.11 (gh-86296)."""

    def __init__(self, entries: list[Delivery]) -> None:
        self.entries = entries
        self.first_flush_started = asyncio.Event()
        self.flushes = 0
        self.released: tuple[list[Delivery], datetime | None] | None = None

    async def due(self, lane: int, now: datetime, limit: int) -> list[str]:
        return [BATCH] if self.released is None else []

    async def due_in_any_lane(self, now: datetime, limit: int) -> list[str]:
        return await self.due(0, now, limit)

    async def claim(
        self, batch_id: str, token: str, now: datetime, until: datetime
    ) -> ClaimedBatch | None:
        return ClaimedBatch(batch_id, NOTICE, "webhook", tuple(self.entries))

    async def flush(
        self,
        batch_id: str,
        token: str,
        entries: Sequence[Delivery],
        counts: Counts,
        until: datetime,
    ) -> bool:
        self.flushes += 1
        if self.flushes == 1:
            self.first_flush_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                return True  # the cancel is lost, the write went through
        # A flusher that lived on renews the lease again and again; end it in time for the
        # test run, as another worker's claim would.
        return self.flushes < 200

    async def release(
        self,
        batch_id: str,
        token: str,
        entries: Sequence[Delivery],
        counts: Counts,
        due_at: datetime | None,
    ) -> bool:
        self.released = (list(entries), due_at)
        return True


class Notices:
    def __init__(self) -> None:
        self.closed = 0

    async def content(self, notice_id: str) -> NoticeContent:
        return NoticeContent(kind="broadcast", title="停水通知", text="明日停水。", data={})

    async def add_counts(
        self, notice_id: str, channel: str, delta: Mapping[str, int], now: datetime
    ) -> None:
        return None

    async def batch_closed(
        self,
        notice_id: str,
        now: datetime,
        channel: str = "",
        delta: Mapping[str, int] | None = None,
    ) -> NoticeProgress:
        self.closed += 1
        return NoticeProgress(notice_id, SENDING, 1, 1, self.closed)


class Completions:
    async def check(
        self, notice: NoticeProgress | None, closed_batch: tuple[str, Counts] | None = None
    ) -> bool:
        return False


class AfterFirstFlush:
    """A receiver that answers only once the worker's first flush is under way."""

    name = "webhook"

    def __init__(self, batches: LossyFlushBatches) -> None:
        self._batches = batches

    async def send(self, message: Outbound) -> Outcome:
        await self._batches.first_flush_started.wait()
        return Outcome.delivered("HTTP 200 OK")


async def test_a_sent_batch_is_given_back_even_when_its_flusher_misses_the_cancel() -> None:
    entries = [
        make_entry(NOTICE, "webhook", seq, Recipient(f"sub-{seq}", f"https://hook/{seq}"))
        for seq in range(3)
    ]
    batches = LossyFlushBatches(entries)
    notices = Notices()
    clock = ManualClock()
    feed = DueBatches(cast(Any, batches), clock, Wakeup(), poll_seconds=0.01, capacity=1)
    worker = BatchWorker(
        feed=feed,
        batches=cast(Any, batches),
        notices=cast(Any, notices),
        completion=cast(Completion, Completions()),
        channels={"webhook": AfterFirstFlush(batches)},
        gates={"webhook": ChannelGate(0, 16)},
        policy=RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=5),
        clock=clock,
        lease=timedelta(seconds=30),
        flush_seconds=0.01,
    )

    assert await feed.sweep() == 1
    claimed = await worker.claim(await feed.next())
    assert claimed is not None
    async with asyncio.timeout(5):
        await worker.work(claimed)

    assert batches.released is not None
    stored, due_at = batches.released
    assert due_at is None, "every delivery is settled: the batch closes"
    assert [entry.status for entry in stored] == [DELIVERED] * 3
    assert notices.closed == 1
    # The flusher stopped with the sends; it did not go on renewing the lease.
    assert batches.flushes <= 2


class DueEverywhere:
    """Every lane has the same due batches (two unless told) until they are claimed."""

    def __init__(self, per_lane: int = 2) -> None:
        self.per_lane = per_lane
        self.finds = 0  # over all lanes at once
        self.lane_finds = 0

    def _of_lane(self, lane: int) -> list[str]:
        return [f"B-{lane}-{letter}" for letter in "abcdefgh"[: self.per_lane]]

    async def due_in_any_lane(self, now: datetime, limit: int) -> list[str]:
        self.finds += 1
        return [batch for lane in range(LANES) for batch in self._of_lane(lane)][:limit]

    async def due(self, lane: int, now: datetime, limit: int) -> list[str]:
        self.lane_finds += 1
        return self._of_lane(lane)[:limit]


async def test_the_scanner_waits_while_every_worker_is_busy() -> None:
    batches = DueEverywhere()
    feed = DueBatches(
        cast(Any, batches), ManualClock(), Wakeup(), poll_seconds=1, capacity=3, first_lane=0
    )
    sweeping = asyncio.create_task(feed.sweep())
    await asyncio.sleep(0.05)
    # Three ids fill the queue (one per worker); the scanner asks nothing more meanwhile.
    assert not sweeping.done() and (batches.finds, batches.lane_finds) == (1, 0)
    assert [await feed.next() for _ in range(3)] == ["B-0-a", "B-0-b", "B-1-a"]
    sweeping.cancel()


async def test_a_sweep_with_few_due_batches_is_one_find_and_with_many_goes_lane_by_lane() -> None:
    few = DueEverywhere(per_lane=2)
    feed = DueBatches(
        cast(Any, few), ManualClock(), Wakeup(), poll_seconds=1, capacity=256, first_lane=0
    )
    assert await feed.sweep() == 32
    assert (few.finds, few.lane_finds) == (1, 0)

    # 80 due: more than one find takes, so each lane gets its turn, four batches at a time,
    # and a lane flooded by a broadcast does not hold up a reporter's batch in the next one.
    many = DueEverywhere(per_lane=5)
    feed = DueBatches(
        cast(Any, many), ManualClock(), Wakeup(), poll_seconds=1, capacity=256, first_lane=0
    )
    assert await feed.sweep() == LANES * 4
    assert (many.finds, many.lane_finds) == (1, LANES)
    assert [await feed.next() for _ in range(5)] == [
        "B-0-a", "B-0-b", "B-0-c", "B-0-d", "B-1-a"
    ]  # fmt: skip


async def test_a_due_batch_is_queued_once_however_often_it_is_found() -> None:
    batches = DueEverywhere()
    feed = DueBatches(
        cast(Any, batches), ManualClock(), Wakeup(), poll_seconds=1, capacity=64, first_lane=0
    )
    assert await feed.sweep() == 32  # sixteen lanes, two due batches each
    assert await feed.sweep() == 0  # found again, all still queued
    taken = await feed.next()
    # Handed to a worker, it may be queued again (its claim decides who sends it).
    assert await feed.sweep() == 1
    assert taken == "B-0-a"


def test_a_notice_is_complete_once_every_batch_with_something_to_send_is_closed() -> None:
    def progress(status: str, to_close: int | None, closed: int) -> NoticeProgress:
        return NoticeProgress("N-1", status, batches_total=4, batches_to_close=to_close,
                              batches_closed=closed)  # fmt: skip

    assert not progress(SENDING, None, 0).every_batch_closed  # still being cut into batches
    assert not progress(SENDING, 3, 2).every_batch_closed
    assert progress(SENDING, 3, 3).every_batch_closed
    assert progress(SENDING, 0, 0).every_batch_closed  # everyone skipped at expansion
    assert not progress("completed", 3, 3).every_batch_closed  # completed once, not again
