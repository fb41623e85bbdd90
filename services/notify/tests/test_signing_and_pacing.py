"""Webhook signatures as a receiver checks them, and the token bucket that paces a channel."""

from __future__ import annotations

import asyncio

import pytest

from gridloop_notify.ratelimit import ChannelGate, TokenBucket
from gridloop_notify.signing import signature, verify

BODY = b'{"notice_id":"N-1","text":"\xe9\x80\x9a\xe7\x9f\xa5"}'


def test_a_signature_verifies_over_the_raw_body_with_the_shared_secret() -> None:
    header = signature("s3cret-s3cret-s3cret", 1_790_000_000, BODY)
    assert header.startswith("t=1790000000,v1=")
    assert verify("s3cret-s3cret-s3cret", header, BODY, now=1_790_000_030)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another-secret-entirely", BODY, 1_790_000_000),  # wrong secret
        ("s3cret-s3cret-s3cret", BODY + b" ", 1_790_000_000),  # body changed
        ("s3cret-s3cret-s3cret", BODY, 1_790_000_301),  # too old: a replay
    ],
)
def test_a_wrong_secret_a_changed_body_or_an_old_signature_fails(
    secret: str, body: bytes, now: int
) -> None:
    header = signature("s3cret-s3cret-s3cret", 1_790_000_000, BODY)
    assert not verify(secret, header, body, now=now)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=x,v1=abc", "t=1790000000"])
def test_a_malformed_header_fails(header: str) -> None:
    assert not verify("s3cret-s3cret-s3cret", header, BODY, now=1_790_000_000)


def test_the_bucket_lets_a_burst_through_then_spaces_takers_at_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.1, 0.2])
    # A second later the bucket has refilled to its burst, no more.
    assert [bucket.reserve(1.2) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


async def test_the_gate_holds_at_most_its_in_flight_sends() -> None:
    gate = ChannelGate(rate=0, in_flight=3)
    inside = peak = 0

    async def send() -> None:
        nonlocal inside, peak
        async with gate.slot():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(send() for _ in range(10)))
    assert peak == 3
