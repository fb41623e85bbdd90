"""Parked messages (`<service>.dead`): read them, put chosen ones back in the inbox, drop them.

Reading takes each message without acknowledging it and gives it back when done, so a look
changes nothing but the broker's redelivery count. Replaying publishes a copy to the service's
inbox through the default exchange (where the consumer trusts our own headers) with the first
attempt's number, the original exchange and routing key, waits for the broker's confirm, and
only then removes the parked original: a replay is never lost, and the message id is the same,
so a consumer that already applied it drops the repeat.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.messaging.consumer import (
    ATTEMPT_HEADER,
    ORIGIN_EXCHANGE_HEADER,
    ORIGIN_ROUTING_KEY_HEADER,
    PARKED_AT_HEADER,
    REASON_HEADER,
)
from gridloop_common.messaging.outgoing import Outgoing
from gridloop_common.messaging.publisher import Publisher
from gridloop_common.messaging.topology import dead_queue, inbox_queue


@dataclass(frozen=True)
class ParkedMessage:
    position: int  # 1 = the oldest in the queue
    message_id: str
    type: str | None
    reason: str
    parked_at: datetime | None
    exchange: str
    routing_key: str
    attempts: int
    body: bytes
    headers: dict[str, Any]

    @property
    def reason_code(self) -> str:
        """The reason's first words, to count by ("invalid message", "not_your_order")."""
        head = self.reason.split(":", 1)[0].strip()
        return head[:80] or "(none)"


def describe(position: int, message: AbstractIncomingMessage) -> ParkedMessage:
    headers = dict(message.headers or {})
    return ParkedMessage(
        position=position,
        message_id=message.message_id or "",
        type=_type_of(message.body),
        reason=_reason(headers),
        parked_at=_time(headers.get(PARKED_AT_HEADER)),
        exchange=str(headers.get(ORIGIN_EXCHANGE_HEADER, "")),
        routing_key=str(headers.get(ORIGIN_ROUTING_KEY_HEADER, message.routing_key or "")),
        attempts=int(str(headers.get(ATTEMPT_HEADER, 1))),
        body=message.body,
        headers=headers,
    )


async def waiting(channel: AbstractChannel, service: str) -> int:
    """How many parked messages are ready, as the broker counts them now (one that another
    look holds unacknowledged at this moment is not among them)."""
    queue = await channel.declare_queue(dead_queue(service), passive=True)
    return int(queue.declaration_result.message_count or 0)


async def peek(channel: AbstractChannel, service: str, limit: int = 10_000) -> list[ParkedMessage]:
    """Up to `limit` parked messages, oldest first; the queue is left as it was."""
    queue = await channel.get_queue(dead_queue(service))
    held: list[AbstractIncomingMessage] = []
    try:
        while len(held) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            held.append(message)
        return [describe(n, m) for n, m in enumerate(held, start=1)]
    finally:
        for message in held:
            await message.nack(requeue=True)


async def replay(
    channel: AbstractChannel,
    publisher: Publisher,
    service: str,
    chosen: Callable[[ParkedMessage], bool],
) -> list[ParkedMessage]:
    """Put the chosen parked messages back in the inbox, each once; the others stay parked.

    `publisher` must publish with confirms on a channel opened with `on_return_raises`.
    """
    return await _take(
        channel, service, chosen, lambda parked: _requeue(publisher, service, parked)
    )


async def purge(
    channel: AbstractChannel, service: str, chosen: Callable[[ParkedMessage], bool]
) -> list[ParkedMessage]:
    """Remove the chosen parked messages for good; the others stay parked."""
    return await _take(channel, service, chosen, None)


def count_by_reason(messages: Sequence[ParkedMessage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        counts[message.reason_code] = counts.get(message.reason_code, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


async def _take(
    channel: AbstractChannel,
    service: str,
    chosen: Callable[[ParkedMessage], bool],
    first: Callable[[ParkedMessage], Any] | None,
) -> list[ParkedMessage]:
    queue = await channel.get_queue(dead_queue(service))
    kept: list[AbstractIncomingMessage] = []
    taken: list[ParkedMessage] = []
    position = 0
    try:
        while True:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            position += 1
            parked = describe(position, message)
            if not chosen(parked):
                kept.append(message)
                continue
            if first is not None:
                try:
                    await first(parked)
                except BaseException:
                    kept.append(message)
                    raise
            await message.ack()
            taken.append(parked)
    finally:
        for message in kept:
            await message.nack(requeue=True)
    return taken


async def _requeue(publisher: Publisher, service: str, parked: ParkedMessage) -> None:
    headers = {
        key: str(value)
        for key, value in parked.headers.items()
        if key.startswith("x-gridloop-") and key not in (REASON_HEADER, PARKED_AT_HEADER)
    }
    headers[ATTEMPT_HEADER] = "1"
    await publisher.publish(
        Outgoing(
            message_id=parked.message_id,
            exchange="",
            routing_key=inbox_queue(service),
            body=parked.body,
            headers=headers,
        )
    )


def _reason(headers: dict[str, Any]) -> str:
    if PARKED_AT_HEADER in headers:  # parked by our consumer, which always says why
        return str(headers.get(REASON_HEADER, "(no reason recorded)"))
    # Dead-lettered by the broker itself (its x-delivery-limit, say). A message that waited in
    # a retry tier first still carries the consumer's reason for that wait: say both, the
    # broker's first, or the wait's reason passes for the parking's.
    deaths = headers.get("x-death")
    last = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    broker = last.get("reason") or headers.get("x-first-death-reason")
    if broker:
        queue = last.get("queue") or headers.get("x-first-death-queue")
        said = f"dead-lettered by the broker: {broker}" + (f" (in {queue})" if queue else "")
        earlier = headers.get(REASON_HEADER)
        return f"{said}; it had waited: {earlier}" if earlier else said
    return str(headers.get(REASON_HEADER, "(no reason recorded)"))


def _type_of(body: bytes) -> str | None:
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    kind = envelope.get("type") if isinstance(envelope, dict) else None
    return str(kind) if kind else None


def _time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
