"""The batch store on the real database: a sent batch nobody gave back is closed by the sweep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from gridloop_common.clock import ManualClock
from gridloop_common.mongo import Client, ensure_indexes
from gridloop_common.registry import load_registry
from gridloop_common.testing.fixtures import Isolated
from gridloop_notify import repository
from gridloop_notify.delivery import (
    LANES,
    Outcome,
    Recipient,
    RetryPolicy,
    Segment,
    apply_outcome,
    count,
)
from gridloop_notify.expansion import Expander
from gridloop_notify.notices import NoticeDraft
from gridloop_notify.repository import ClaimedBatch
from gridloop_notify.worker import Completion, Wakeup

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=30)
POLICY = RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=5)


@dataclass
class Store:
    notices: repository.NoticeRepository
    batches: repository.BatchRepository
    completion: Completion
    clock: ManualClock


async def notice_with_one_claimed_batch(
    isolated: Isolated, mongo_client: Client, holder: str
) -> tuple[Store, str, ClaimedBatch]:
    """A stored, expanded notice to three webhooks, its one batch claimed by `holder`."""
    database = mongo_client[isolated.database("notify")]
    await ensure_indexes(database, repository.INDEXES)
    clock = ManualClock()
    notices = repository.NoticeRepository(database[repository.NOTICES])
    batches = repository.BatchRepository(database[repository.BATCHES])
    store = Store(notices, batches, Completion(notices, batches, clock), clock)
    expander = Expander(notices, batches, load_registry(), store.completion, clock, Wakeup(), LEASE)
    notice_id = f"N-{uuid.uuid4().hex[:12]}"
    recipients = tuple(Recipient(f"sub-{i}", f"https://hook.example/{i}") for i in range(3))
    draft = NoticeDraft(
        notice_id=notice_id,
        kind="broadcast",
        title="停水通知",
        text="明日停水。",
        data={},
        segments=(Segment("webhook", "listed", len(recipients), recipients),),
    )
    assert await notices.insert(draft, clock.now(), batch_size=100)
    assert await expander.expand(notice_id)
    now = clock.now()
    [batch_id] = [b for lane in range(LANES) for b in await batches.due(lane, now, 4)]
    claimed = await batches.claim(batch_id, holder, now, now + LEASE)
    assert claimed is not None
    return store, notice_id, claimed


async def test_a_fully_sent_batch_its_worker_never_gave_back_is_closed_and_the_notice_completes(
    isolated: Isolated, mongo_client: Client
) -> None:
    store, notice_id, claimed = await notice_with_one_claimed_batch(
        isolated, mongo_client, "stuck-worker"
    )
    batches, clock = store.batches, store.clock
    batch_id = claimed.batch_id
    # The worker sent everything and stored it, then never gave the batch back (on Python 3.11
    # its flusher could miss the cancel and renew the lease for ever).
    now = clock.now()
    sent = [
        apply_outcome(entry, Outcome.delivered("HTTP 200 OK"), now, POLICY, 0.0)
        for entry in claimed.entries
    ]
    assert await batches.flush(batch_id, "stuck-worker", sent, count(sent), now + LEASE)

    clock.advance(3 * LEASE)
    assert await store.completion.check_quiet(notice_id)

    notice = await store.notices.get(notice_id)
    assert notice is not None
    assert notice["status"] == repository.COMPLETED
    assert notice["totals"]["delivered"] == 3
    assert notice["batches_closed"] == 1
    assert not await batches.any_open(notice_id)
    # The holder hears that the batch is no longer its own at its next flush, and stops.
    later = clock.now()
    assert not await batches.flush(batch_id, "stuck-worker", sent, count(sent), later + LEASE)


async def test_the_sweep_leaves_a_batch_with_deliveries_still_pending_to_its_worker(
    isolated: Isolated, mongo_client: Client
) -> None:
    store, notice_id, claimed = await notice_with_one_claimed_batch(
        isolated, mongo_client, "busy-worker"
    )
    start = store.clock.now()

    store.clock.advance(3 * LEASE)
    assert not await store.completion.check_quiet(notice_id)

    assert await store.batches.any_open(notice_id)
    entries = claimed.entries
    assert await store.batches.flush(
        claimed.batch_id, "busy-worker", entries, count(entries), start + LEASE
    )
