"""Turns a stored notice's plan into delivery batches, in bulk, resumable after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.faults import crash_point
from gridloop_common.registry import Registry
from gridloop_common.tasks import cancel_and_wait
from gridloop_notify.audience import (
    Audience,
    chat_group_recipients,
    chat_groups,
    household_recipients,
)
from gridloop_notify.delivery import BatchDraft, Recipient, Segment, count, cut_batches
from gridloop_notify.notices import NoticeDraft
from gridloop_notify.repository import (
    SENDING,
    BatchRepository,
    ExpansionLease,
    NoticeContent,
    NoticePlan,
    NoticeProgress,
    NoticeRepository,
)
from gridloop_notify.worker import Completion, LeaseLost, NoticeContents, Wakeup

log = structlog.stdlib.get_logger("gridloop.notify.expansion")

# Recipients per insert: large enough to amortise a round trip, small enough that a crash
# repeats little and workers start sending while the rest is still being stored.
INSERT_RECIPIENTS = 2_000


@dataclass
class Expander:
    """The plan (an area and channels, or a short list) expands the same way every time: same
    batches, seqs and delivery ids. Batches go in unordered, a few thousand recipients per insert,
    duplicates ignored, with a checkpoint (`expanded_batches`) after each insert; a resumed
    expansion skips what the checkpoint covers and stores nothing twice."""

    notices: NoticeRepository
    batches: BatchRepository
    registry: Registry
    completion: Completion
    clock: Clock
    wakeup: Wakeup
    lease: timedelta
    # The replica's workers' cache of what notices say; a notice expanded here is put in it.
    contents: NoticeContents | None = None
    # Test-only: GRIDLOOP_FAULT_POINT=notify.expansion_chunk_stored dies after the first chunk.
    fault_point: str = ""
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    def start(self, notice_id: str) -> None:
        """Expand in the background (a broadcast's 202 does not wait for 86,000 recipients)."""
        task = asyncio.create_task(self.expand(notice_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The housekeeping sweep resumes it once the lease runs out.
            log.error("notice_expansion_failed", reason=type(task.exception()).__name__)

    async def stop(self) -> None:
        await cancel_and_wait(list(self._tasks))

    def new_lease(self) -> ExpansionLease:
        """A lease to store a notice with (`NoticeRepository.insert`), then `expand_new` it."""
        return ExpansionLease(uuid.uuid4().hex, self.clock.now() + self.lease)

    async def expand_new(self, draft: NoticeDraft, lease: ExpansionLease, batch_size: int) -> bool:
        """Expand a notice just stored under `lease`, from the draft in hand: no claim, no
        read of the plan, and this replica's workers know what it says without reading it.
        Three of the commands a reporter notice cost (bench/notify/reporters.py)."""
        if self.contents is not None:
            self.contents.remember(
                draft.notice_id, NoticeContent(draft.kind, draft.title, draft.text, draft.data)
            )
        plan = NoticePlan.of_draft(draft, batch_size)
        return await self._expand_leased(draft.notice_id, lease.token, plan)

    async def expand(self, notice_id: str) -> bool:
        """Store every batch of the notice; False if another worker holds or finished it."""
        token = uuid.uuid4().hex
        now = self.clock.now()
        if not await self.notices.claim_expansion(notice_id, token, now, now + self.lease):
            return False
        return await self._expand_leased(notice_id, token, None)

    async def _expand_leased(self, notice_id: str, token: str, plan: NoticePlan | None) -> bool:
        try:
            finished = await self._expand_claimed(notice_id, token, plan)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.notices.release_expansion(notice_id, token))
            raise
        except LeaseLost:
            log.warning("notice_expansion_lease_lost", notice_id=notice_id)
            return False
        # No wakeup here: each stored chunk woke the workers already (`_store`).
        await self.completion.check(finished)
        return finished is not None

    async def _expand_claimed(
        self, notice_id: str, token: str, plan: NoticePlan | None
    ) -> NoticeProgress | None:
        if plan is None:
            plan = await self.notices.plan(notice_id)
        if plan is None:
            return None
        drafts = cut_batches(
            notice_id,
            [(s.channel, self._recipients(s, plan.audience)) for s in plan.segments],
            plan.batch_size,
        )
        checkpoint = plan.expanded_batches
        chunk: list[BatchDraft] = []
        in_chunk = 0
        total = to_close = 0
        skipped: dict[str, int] = {}
        for draft in drafts:
            total += 1
            counts = count(draft.entries)
            if counts.pending:
                to_close += 1
            if counts.skipped:
                skipped[draft.channel] = skipped.get(draft.channel, 0) + counts.skipped
            if draft.k < checkpoint:
                continue
            chunk.append(draft)
            in_chunk += len(draft.entries)
            if in_chunk >= INSERT_RECIPIENTS:
                await self._store(notice_id, token, chunk, checkpoint=True)
                chunk, in_chunk = [], 0
        # The last chunk needs no checkpoint: finishing the expansion records it.
        await self._store(notice_id, token, chunk, checkpoint=False)
        finished = await self.notices.finish_expansion(
            notice_id,
            token,
            batches_total=total,
            batches_to_close=to_close,
            skipped=skipped,
            segments=plan.segments,
            now=self.clock.now(),
        )
        if finished is None:
            raise LeaseLost(notice_id)
        log.info("notice_expanded", notice_id=notice_id, batches=total, recipients=plan.recipients)
        return finished

    async def _store(
        self, notice_id: str, token: str, chunk: list[BatchDraft], *, checkpoint: bool
    ) -> None:
        if not chunk:
            return
        now = self.clock.now()
        await self.batches.insert(chunk, now)
        if checkpoint and not await self.notices.record_expanded(
            notice_id, token, chunk[-1].k + 1, now + self.lease
        ):
            raise LeaseLost(notice_id)
        crash_point(self.fault_point, "notify.expansion_chunk_stored")
        # Sending starts with the first chunk; the rest follows while it goes out.
        self.wakeup.poke()

    def _recipients(self, segment: Segment, audience: Audience | None) -> Iterable[Recipient]:
        if segment.source == "listed":
            return segment.recipients
        if audience is None:
            raise ValueError(f"segment {segment.source} needs an audience")
        if segment.source == "chat_groups":
            return chat_group_recipients(chat_groups(self.registry, audience))
        return household_recipients(self.registry, audience)


@dataclass(frozen=True)
class Housekeeping:
    """Resumes what a crashed replica left: expansions nobody holds, and notices gone quiet
    whose end went uncounted (each replica runs one)."""

    notices: NoticeRepository
    expander: Expander
    completion: Completion
    clock: Clock
    lease: timedelta
    poll_seconds: float

    async def run(self) -> None:
        while True:
            now = self.clock.now()
            for notice_id in await self.notices.unclaimed_expansions(now):
                await self.expander.expand(notice_id)
            for notice_id in await self.notices.quiet_since(SENDING, now - 2 * self.lease):
                await self.completion.check_quiet(notice_id)
            await asyncio.sleep(self.poll_seconds)
