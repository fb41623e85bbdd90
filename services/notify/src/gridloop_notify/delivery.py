"""Pure delivery rules: ids, batches, outcomes, back-off with jitter, and what a batch owes next."""

from __future__ import annotations

import email.utils
import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from gridloop_common.envelope import derived_id

Status = Literal["pending", "delivered", "failed", "skipped"]
PENDING: Status = "pending"
DELIVERED: Status = "delivered"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
STATUSES: tuple[Status, ...] = (PENDING, DELIVERED, FAILED, SKIPPED)
SETTLED = frozenset({DELIVERED, FAILED, SKIPPED})

# A batch's claim query reads every due batch of one lane; spreading batches over lanes keeps
# that read small on a store without covered index scans (the MongoDB stand-in decodes every
# candidate). Fixed, not a setting: every replica must scan the same lanes.
LANES = 16

# Not a sending channel: entries decided at expansion (e.g. an Open311 reporter, whose client
# reads the status from intake) are stored settled under it, so the record stays complete.
RECORD_ONLY = "none"

# A receiver answering one of these will answer the same next time; 408 and 429 invite a retry.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})

OutcomeKind = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient's delivery within a batch. Its `delivery_id` is the idempotency key every
    attempt sends; `address` and `secret_ref` are kept only while something is left to send
    (a resident's phone number, a URL that may carry a token)."""

    delivery_id: str
    seq: int
    recipient_id: str
    status: Status = PENDING
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    # Set on a pending delivery that failed and waits for its retry.
    next_attempt_at: datetime | None = None
    address: str | None = None
    secret_ref: str | None = None


@dataclass(frozen=True)
class Recipient:
    """Who a delivery goes to: `recipient_id` is shown and logged, `address` never is."""

    recipient_id: str
    address: str
    # Which signing secret a webhook delivery uses: "setting:<name>" or "subscription:<id>".
    secret_ref: str | None = None
    # Set when it is known before any attempt that nothing will be sent (stored as skipped).
    skip_reason: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A channel's answer to one send."""

    kind: OutcomeKind
    detail: str
    # The receiver's own wish (Retry-After), a floor under the computed back-off.
    retry_after_seconds: float | None = None

    @classmethod
    def delivered(cls, detail: str) -> Outcome:
        return cls("delivered", detail)

    @classmethod
    def retry(cls, detail: str, retry_after_seconds: float | None = None) -> Outcome:
        return cls("retry", detail, retry_after_seconds)

    @classmethod
    def failed(cls, detail: str) -> Outcome:
        return cls("failed", detail)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class BatchDraft:
    """One stored delivery batch: up to `batch_size` recipients of one notice on one channel."""

    batch_id: str
    notice_id: str
    k: int
    channel: str
    first_seq: int
    entries: tuple[Delivery, ...]

    @property
    def lane(self) -> int:
        """A notice's batches take the lanes in turn from a lane of its own: a broadcast's
        spread evenly, and one-batch notices (every reporter notice) spread over the lanes
        too, where all in lane 0 they had one lane's share of each sweep behind a broadcast
        (crc32: the same lane in every process, where `hash` of a str is not)."""
        return (self.k + zlib.crc32(self.notice_id.encode())) % LANES


@dataclass
class Counts:
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            PENDING: self.pending,
            DELIVERED: self.delivered,
            FAILED: self.failed,
            SKIPPED: self.skipped,
        }

    def plus(self, other: Counts) -> Counts:
        return Counts(
            self.pending + other.pending,
            self.delivered + other.delivered,
            self.failed + other.failed,
            self.skipped + other.skipped,
        )

    def minus(self, other: Counts) -> dict[str, int]:
        mine, theirs = self.as_dict(), other.as_dict()
        return {status: mine[status] - theirs[status] for status in STATUSES}


@dataclass(frozen=True)
class Segment:
    """Part of a notice's plan: recipients of one channel, from the registry or listed."""

    channel: str
    source: Literal["chat_groups", "households", "listed"]
    count: int
    recipients: tuple[Recipient, ...] = field(default=())


def delivery_id(notice_id: str, channel: str, recipient_id: str) -> str:
    """The idempotency key of one (notice, recipient): the same on every attempt and restart."""
    return derived_id("notify.delivery", notice_id, channel, recipient_id)


def batch_id(notice_id: str, k: int) -> str:
    # Zero-padded so the batches of a notice sort by k.
    return f"{notice_id}.{k:06d}"


def new_entry(notice_id: str, channel: str, seq: int, recipient: Recipient) -> Delivery:
    entry = Delivery(
        delivery_id=delivery_id(notice_id, channel, recipient.recipient_id),
        seq=seq,
        recipient_id=recipient.recipient_id,
    )
    if recipient.skip_reason is not None:
        return replace(entry, status=SKIPPED, last_error=recipient.skip_reason)
    return replace(entry, address=recipient.address, secret_ref=recipient.secret_ref)


def cut_batches(
    notice_id: str,
    segments: Iterable[tuple[str, Iterable[Recipient]]],
    batch_size: int,
) -> Iterator[BatchDraft]:
    """Number every recipient of every segment and cut each segment into batches, in order.

    Deterministic: the same plan always gives the same batch ids, seqs and delivery ids, so an
    expansion interrupted by a crash can be run again and only adds what is missing.
    """
    k = 0
    seq = 0
    for channel, recipients in segments:
        chunk: list[Delivery] = []
        for recipient in recipients:
            chunk.append(new_entry(notice_id, channel, seq, recipient))
            seq += 1
            if len(chunk) == batch_size:
                yield _draft(notice_id, k, channel, chunk)
                k += 1
                chunk = []
        if chunk:
            yield _draft(notice_id, k, channel, chunk)
            k += 1


def _draft(notice_id: str, k: int, channel: str, chunk: list[Delivery]) -> BatchDraft:
    return BatchDraft(
        batch_id=batch_id(notice_id, k),
        notice_id=notice_id,
        k=k,
        channel=channel,
        first_seq=chunk[0].seq,
        entries=tuple(chunk),
    )


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


def is_permanent_failure(status_code: int) -> bool:
    return 400 <= status_code < 500 and status_code not in _RETRYABLE_CLIENT_ERRORS


def http_outcome(
    status_code: int, reason_phrase: str, retry_after: str | None, now: datetime
) -> Outcome:
    """What an HTTP answer means: 2xx delivered, 4xx (but 408/429) final, the rest retried."""
    detail = f"HTTP {status_code} {reason_phrase}".strip()
    if is_success(status_code):
        return Outcome.delivered(detail)
    if is_permanent_failure(status_code):
        return Outcome.failed(detail)
    return Outcome.retry(detail, parse_retry_after(retry_after, now))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_seconds(attempt: int, policy: RetryPolicy, jitter: float) -> float:
    """Delay before the next try after `attempt` failed tries: exponential, capped, jittered.

    `jitter` in [0, 1) scales the delay to [50 %, 100 %): retries of a batch that failed
    together (a receiver outage) spread out instead of returning in one burst.
    """
    exponent = min(max(attempt - 1, 0), 60)
    ceiling = min(policy.max_seconds, policy.base_seconds * math.pow(2, exponent))
    return ceiling * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def apply_outcome(
    entry: Delivery, outcome: Outcome, now: datetime, policy: RetryPolicy, jitter: float
) -> Delivery:
    """The delivery after one attempt; a settled one loses its address (kept only to send)."""
    attempts = entry.attempts + 1
    if outcome.kind == "delivered":
        return settled(entry, DELIVERED, attempts, now, delivered_at=now)
    if outcome.kind == "failed":
        return settled(entry, FAILED, attempts, now, last_error=outcome.detail)
    if attempts >= policy.max_attempts:
        gave_up = f"{outcome.detail} (gave up after {attempts} attempts)"
        return settled(entry, FAILED, attempts, now, last_error=gave_up)
    delay = max(backoff_seconds(attempts, policy, jitter), outcome.retry_after_seconds or 0)
    return replace(
        entry,
        status=PENDING,
        attempts=attempts,
        last_attempt_at=now,
        last_error=outcome.detail,
        next_attempt_at=now + timedelta(seconds=delay),
    )


def settled(
    entry: Delivery,
    status: Status,
    attempts: int,
    now: datetime,
    *,
    delivered_at: datetime | None = None,
    last_error: str | None = None,
) -> Delivery:
    return replace(
        entry,
        status=status,
        attempts=attempts,
        last_attempt_at=now,
        delivered_at=delivered_at or entry.delivered_at,
        last_error=last_error if last_error is not None else entry.last_error,
        next_attempt_at=None,
        address=None,
        secret_ref=None,
    )


def is_due(entry: Delivery, now: datetime) -> bool:
    if entry.status != PENDING:
        return False
    return entry.next_attempt_at is None or entry.next_attempt_at <= now


def count(entries: Iterable[Delivery]) -> Counts:
    counts = Counts()
    for entry in entries:
        setattr(counts, entry.status, getattr(counts, entry.status) + 1)
    return counts


def next_due(entries: Iterable[Delivery], now: datetime) -> datetime | None:
    """When the batch next needs a worker: its earliest pending retry; None once all settled."""
    pending = [entry.next_attempt_at or now for entry in entries if entry.status == PENDING]
    return min(pending) if pending else None
