"""The pure delivery rules: ids, batches, verdicts, back-off, and what a batch owes next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gridloop_notify.delivery import (
    DELIVERED,
    FAILED,
    LANES,
    PENDING,
    RECORD_ONLY,
    SKIPPED,
    Delivery,
    Outcome,
    Recipient,
    RetryPolicy,
    Status,
    apply_outcome,
    backoff_seconds,
    count,
    cut_batches,
    delivery_id,
    http_outcome,
    is_due,
    new_entry,
    next_due,
    parse_retry_after,
)
from gridloop_notify.repository.batches import entry_document, entry_of

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, base_seconds=2, max_seconds=10)


def people(n: int, prefix: str = "hh") -> list[Recipient]:
    return [Recipient(f"{prefix}-{i}", f"+86-000-{i:08d}") for i in range(n)]


def test_delivery_id_is_stable_per_notice_channel_and_recipient() -> None:
    # A fixed value: the id must be the same in every process and release, since a channel
    # deduplicates retries by it; a change here re-sends every notice in flight.
    assert delivery_id("N-1", "sms", "hh-1") == "0b17aa0c-15cf-5c09-a0f2-2e225011a88f"
    assert (
        len(
            {
                delivery_id("N-1", "sms", "hh-1"),
                delivery_id("N-2", "sms", "hh-1"),
                delivery_id("N-1", "email", "hh-1"),
                delivery_id("N-1", "sms", "hh-2"),
            }
        )
        == 4
    )


def test_batches_are_cut_per_segment_with_dense_seqs_and_the_same_ids_every_time() -> None:
    plan = [("chat_group", people(5, "grp")), ("sms", people(7))]
    first = list(cut_batches("N-1", plan, batch_size=3))
    again = list(cut_batches("N-1", [("chat_group", people(5, "grp")), ("sms", people(7))], 3))

    assert [(b.k, b.channel, len(b.entries)) for b in first] == [
        (0, "chat_group", 3),
        (1, "chat_group", 2),
        (2, "sms", 3),
        (3, "sms", 3),
        (4, "sms", 1),
    ]
    assert [e.seq for b in first for e in b.entries] == list(range(12))
    assert [b.first_seq for b in first] == [0, 3, 5, 8, 11]
    assert [b.batch_id for b in first] == [b.batch_id for b in again]
    assert [e.delivery_id for b in first for e in b.entries] == [
        e.delivery_id for b in again for e in b.entries
    ]
    assert first[0].batch_id == "N-1.000000"
    assert len({b.lane for b in first}) == 5
    # Fixed values: every replica must put a batch in the same lane.
    assert [b.lane for b in first] == [13, 14, 15, 0, 1]


def test_one_batch_notices_spread_over_the_lanes() -> None:
    lanes = {
        next(cut_batches(f"N-{n}", [("sms", [Recipient(f"P-{n}", "13800000000")])], 100)).lane
        for n in range(200)
    }
    assert lanes == set(range(LANES))


def test_a_new_entry_is_pending_with_its_address_and_a_skipped_one_has_none() -> None:
    entry = new_entry(
        "N-1", "webhook", 0, Recipient("S-1", "https://x.example/h", "subscription:S-1")
    )
    assert (entry.status, entry.attempts, entry.address) == (
        PENDING,
        0,
        "https://x.example/h",
    )
    assert entry.secret_ref == "subscription:S-1"
    skipped = new_entry("N-1", RECORD_ONLY, 1, Recipient("P-1", "", skip_reason="open311"))
    assert (skipped.status, skipped.last_error) == (SKIPPED, "open311")
    assert skipped.address is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (400, "failed"),
        (404, "failed"),
        (410, "failed"),
        (408, "retry"),
        (429, "retry"),
        (301, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_http_answers_mean_delivered_final_or_retry(status: int, kind: str) -> None:
    assert http_outcome(status, "Phrase", None, NOW).kind == kind


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Thu, 26 Nov 2026 08:01:00 GMT", NOW) == 60
    assert parse_retry_after("yesterday", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert http_outcome(429, "Too Many Requests", "7", NOW).retry_after_seconds == 7


def test_backoff_doubles_up_to_the_cap_and_jitter_keeps_it_between_half_and_all() -> None:
    assert [backoff_seconds(n, POLICY, 1.0) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    assert backoff_seconds(3, POLICY, 0.0) == 4
    assert 4 <= backoff_seconds(3, POLICY, 0.37) < 8


def test_delivered_settles_the_entry_and_forgets_its_address() -> None:
    entry = new_entry("N-1", "sms", 0, Recipient("hh-1", "+86-000-00000001"))
    done = apply_outcome(entry, Outcome.delivered("HTTP 200"), NOW, POLICY, 0.5)
    assert (done.status, done.attempts, done.delivered_at) == (DELIVERED, 1, NOW)
    assert done.address is None
    assert entry.status == PENDING  # the input is not changed


def test_a_transient_failure_waits_for_its_back_off_or_the_receivers_wish() -> None:
    entry = new_entry("N-1", "sms", 0, Recipient("hh-1", "+86-000-00000001"))
    later = apply_outcome(entry, Outcome.retry("HTTP 503"), NOW, POLICY, 0.0)
    assert (later.status, later.attempts, later.last_error) == (PENDING, 1, "HTTP 503")
    assert later.next_attempt_at == NOW + timedelta(seconds=1)
    assert later.address == "+86-000-00000001"
    slowed = apply_outcome(entry, Outcome.retry("HTTP 429", 30), NOW, POLICY, 0.0)
    assert slowed.next_attempt_at == NOW + timedelta(seconds=30)
    assert not is_due(later, NOW)
    assert is_due(later, NOW + timedelta(seconds=1))


def test_a_permanent_failure_or_the_last_attempt_fails_with_the_reason() -> None:
    entry = new_entry("N-1", "sms", 0, Recipient("hh-1", "+86-000-00000001"))
    refused = apply_outcome(entry, Outcome.failed("HTTP 410 Gone"), NOW, POLICY, 0.5)
    assert (refused.status, refused.last_error) == (FAILED, "HTTP 410 Gone")
    assert refused.address is None
    worn = replace(entry, attempts=POLICY.max_attempts - 1)
    gave_up = apply_outcome(worn, Outcome.retry("HTTP 503"), NOW, POLICY, 0.5)
    assert gave_up.status == FAILED
    assert gave_up.last_error == "HTTP 503 (gave up after 4 attempts)"
    assert gave_up.next_attempt_at is None and gave_up.address is None


def test_a_batch_is_due_at_its_earliest_pending_retry_and_closed_when_all_settled() -> None:
    def entry(status: Status, next_attempt_at: datetime | None = None) -> Delivery:
        return Delivery("d", 0, "r", status=status, next_attempt_at=next_attempt_at)

    entries = [
        entry(DELIVERED),
        entry(PENDING, NOW + timedelta(seconds=9)),
        entry(PENDING, NOW + timedelta(seconds=3)),
        entry(FAILED),
    ]
    assert next_due(entries, NOW) == NOW + timedelta(seconds=3)
    assert next_due([entry(PENDING)], NOW) == NOW
    assert next_due([entry(DELIVERED), entry(SKIPPED)], NOW) is None
    assert count(entries).as_dict() == {PENDING: 2, DELIVERED: 1, FAILED: 1, SKIPPED: 0}


def test_a_stored_delivery_reads_back_the_same_and_a_settled_one_keeps_no_address() -> None:
    pending = new_entry("N-1", "webhook", 3, Recipient("S-1", "https://x.example/h", "setting:k"))
    waiting = apply_outcome(pending, Outcome.retry("HTTP 503"), NOW, POLICY, 0.0)
    done = apply_outcome(waiting, Outcome.delivered("HTTP 200"), NOW, POLICY, 0.0)
    for entry in (pending, waiting, done):
        assert entry_of(entry_document(entry)) == entry
    assert entry_document(waiting)["address"] == "https://x.example/h"
    assert set(entry_document(done)) == {
        "delivery_id", "seq", "recipient_id", "status", "attempts", "last_error",
        "last_attempt_at", "delivered_at",
    }  # fmt: skip
    assert done.last_error == "HTTP 503"  # the last failure stays on record once delivered
