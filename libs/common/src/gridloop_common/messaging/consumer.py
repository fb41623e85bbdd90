"""Runs a service's subscriptions: decode → validate → bind log context → handle → ack.

A handler failure is retried after a back-off (a copy goes to a TTL retry queue, then the original
is acked); past the last delay it is parked in `<service>.dead` with the reason. A message that
cannot be decoded or validated is parked at once. Nothing is acked unhandled: if even the retry
or park publish fails, the original is returned to the queue.

A message redelivered by the broker (its consumer died holding it) is handled alone, between two
lines of the crash journal (crash_journal.py): one that killed the process `delivery_limit`
times is parked with that reason, and the messages that only shared its prefetch are not charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError

from gridloop_common.contracts.base import Message
from gridloop_common.envelope import CloudEvent
from gridloop_common.faults import crash_on_poison, raise_on_poison
from gridloop_common.messaging.gate import SoloGate
from gridloop_common.messaging.outgoing import Outgoing
from gridloop_common.messaging.publisher import Publisher
from gridloop_common.messaging.topology import Binding, dead_queue, retry_queue
from gridloop_common.tasks import cancel_and_wait

log = structlog.stdlib.get_logger("gridloop.consumer")

ATTEMPT_HEADER = "x-gridloop-attempt"
# Waits for the database or for an earlier message: they spend no attempt of the message.
WAITS_HEADER = "x-gridloop-waits"
WAITING_SINCE_HEADER = "x-gridloop-waiting-since"
REASON_HEADER = "x-gridloop-reason"
ORIGIN_EXCHANGE_HEADER = "x-gridloop-original-exchange"
ORIGIN_ROUTING_KEY_HEADER = "x-gridloop-original-routing-key"
PARKED_AT_HEADER = "x-gridloop-parked-at"


class PermanentError(Exception):
    """A handler's verdict that retrying cannot help (illegal transition, foreign order...)."""


class NotYet(Exception):
    """The message depends on an earlier one not handled yet: it overtook it (concurrent
    handling, a redelivery, a retry tier). It waits through the retry tiers without spending an
    attempt for `patience` seconds after it first waited; then attempts count as for any
    failure, and on the last one (`Delivery.last_attempt`) the handler decides without it."""


@dataclass(frozen=True)
class Delivery:
    """What a handler may know about the message beyond its contract."""

    event: CloudEvent
    exchange: str
    # As first published: the sender's routing key even after retries (see ORIGIN_* headers).
    routing_key: str
    attempt: int
    # No retry follows a failure of this attempt: it would be parked. A handler waiting for an
    # earlier message to land (an event that overtook another) decides now what it can.
    last_attempt: bool = False

    @property
    def event_id(self) -> str:
        return self.event.id


M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Subscription(Generic[M]):
    """One handler per message type; `bindings` defaults to the contract's own binding.

    Generic in the message, so the type checker refuses a handler that takes another message
    than the one it is registered for."""

    message: type[M]
    handler: Callable[[M, Delivery], Awaitable[None]]
    bindings: tuple[Binding, ...] = ()

    def all_bindings(self) -> tuple[Binding, ...]:
        return self.bindings or (Binding(self.message.EXCHANGE, self.message.BINDING),)


class DuplicateSubscription(ValueError):
    """Two handlers registered for one message type: which one runs would be an accident."""


def handlers_by_type(subscriptions: Sequence[Subscription[Any]]) -> dict[str, Subscription[Any]]:
    """Each message type's subscription; raises `DuplicateSubscription` for a type registered
    twice (the service must not start: one of the two handlers would never run)."""
    by_type: dict[str, Subscription[Any]] = {}
    for subscription in subscriptions:
        kind = subscription.message.TYPE
        if kind in by_type:
            raise DuplicateSubscription(f"{kind} has two handlers: give it one")
        by_type[kind] = subscription
    return by_type


class ConsumerMetrics(Protocol):
    def message_handled(self, message_type: str, outcome: str) -> None: ...


class CrashJournal(Protocol):
    """Where a redelivered message's handling is noted before it starts and removed after."""

    async def begin(self, key: str) -> int:
        """Note the start; return how many earlier handlings of this message never ended."""
        ...

    async def end(self, key: str) -> None: ...


@dataclass(frozen=True)
class _Origin:
    """Where a message first came from, and which attempt this is (see `_origin_of`)."""

    attempt: int
    exchange: str
    routing_key: str
    waits: int = 0
    # When it first waited for an earlier message (NotYet), epoch seconds.
    waiting_since: float | None = None


class Consumer:
    def __init__(
        self,
        *,
        service: str,
        queue: AbstractQueue,
        publisher: Publisher,
        subscriptions: Sequence[Subscription[Any]],
        retry_delays_ms: Sequence[int],
        metrics: ConsumerMetrics,
        journal: CrashJournal | None = None,
        delivery_limit: int = 10,
        poison_marker: str = "",
        raise_marker: str = "",
        is_outage: Callable[[BaseException], bool] = lambda _: False,
        recovered: Callable[[], Awaitable[bool]] | None = None,
        patience_seconds: float = 300.0,
    ) -> None:
        self._service = service
        self._queue = queue
        self._publisher = publisher
        self._handlers = handlers_by_type(subscriptions)
        self._retry_delays_ms = tuple(retry_delays_ms)
        self._metrics = metrics
        self._journal = journal
        self._delivery_limit = delivery_limit
        self._poison_marker = poison_marker
        self._raise_marker = raise_marker
        self._is_outage = is_outage
        self._recovered = recovered
        self._patience = patience_seconds
        self._sitting_out: asyncio.Task[None] | None = None
        self._gate = SoloGate()
        self._consumer_tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # The event time of every delivery in hand (see `holding_since`), by arrival number.
        self._held: dict[int, datetime] = {}
        self._arrivals = 0

    async def start(self) -> None:
        self._consumer_tag = await self._queue.consume(self._on_message)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages and let the ones in hand finish (SIGTERM path)."""
        if self._sitting_out is not None:
            await cancel_and_wait([self._sitting_out])
        if self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("consumer_stop_timed_out", in_flight=self._in_flight)

    def holding_since(self) -> datetime | None:
        """The earliest event time among the deliveries this consumer holds (received, not yet
        acknowledged or handed on), None when it holds none.

        The broker counts a delivery in hand as *unacknowledged*, not as waiting, so a judge of
        deadlines that asks only the broker misses it (sla-monitor's scan bounds its verdicts by
        this, on every replica: docs/reliability.md)."""
        return min(self._held.values(), default=None)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        decoded = _decode(message.body)
        self._arrivals += 1
        arrival = self._arrivals
        if isinstance(decoded, CloudEvent):
            self._held[arrival] = decoded.time
        try:
            if message.redelivered and self._journal is not None:
                async with self._gate.alone():
                    await self._process_after_crash(message, self._journal, decoded)
            else:
                async with self._gate.together():
                    await self._process(message, decoded)
        finally:
            self._held.pop(arrival, None)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process_after_crash(
        self, message: AbstractIncomingMessage, journal: CrashJournal, decoded: Decoded
    ) -> None:
        key = _journal_key(self._service, message)
        origin = _origin_of(message)
        try:
            unfinished = await journal.begin(key)
        except Exception as error:
            # No journal (the database is away): back off as a handler failing on it would.
            log.warning("crash_journal_unavailable", reason=_reason(error)[:200])
            if self._is_outage(error):
                await self._wait_out(message, origin, error)
            else:
                await self._retry_or_park(message, origin, error)
            return
        try:
            if unfinished + 1 >= self._delivery_limit:
                reason = (
                    f"killed its consumer: the process died {unfinished} times while handling "
                    "it alone after a crash (and once before); parked so the service can run"
                )
                log.error("message_killed_its_consumer", crashes=unfinished + 1)
                await self._park(message, origin, reason)
                self._metrics.message_handled("crashing", "parked")
                return
            await self._process(message, decoded)
        finally:
            with contextlib.suppress(Exception):
                await journal.end(key)

    async def _process(self, message: AbstractIncomingMessage, decoded: Decoded) -> None:
        crash_on_poison(self._poison_marker, message.body)
        origin = _origin_of(message)
        try:
            if isinstance(decoded, ValidationError):
                raise decoded
            event = decoded
            subscription = self._handlers.get(event.type)
            if subscription is None:
                raise PermanentError(f"no handler for message type {event.type!r}")
            payload = subscription.message.model_validate(event.data)
        except (ValidationError, PermanentError) as error:
            await self._park(message, origin, _reason(error))
            self._metrics.message_handled("invalid", "parked")
            return

        delivery = Delivery(
            event=event,
            exchange=origin.exchange,
            routing_key=origin.routing_key,
            attempt=origin.attempt,
            last_attempt=origin.attempt > len(self._retry_delays_ms),
        )
        with structlog.contextvars.bound_contextvars(
            event_id=event.id,
            event_type=event.type,
            case_id=event.subject,
            correlation_id=event.correlationid,
        ):
            try:
                raise_on_poison(self._raise_marker, message.body)
                await subscription.handler(payload, delivery)
            except PermanentError as error:
                log.warning("message_refused", reason=str(error))
                await self._park(message, origin, _reason(error))
                self._metrics.message_handled(event.type, "parked")
                return
            except NotYet as error:
                since = origin.waiting_since or time.time()
                if time.time() - since < self._patience:
                    log.info("message_waits_for_an_earlier_one", reason=str(error)[:200])
                    await self._wait_out(message, origin, error, waiting_since=since)
                    self._metrics.message_handled(event.type, "delayed")
                    return
                log.warning("message_failed", attempt=origin.attempt, reason=str(error)[:200])
                await self._retry_or_park(message, origin, error)
                self._metrics.message_handled(event.type, "failed")
                return
            except Exception as error:
                if self._is_outage(error):
                    # Not the message's fault: it waits for the database without spending an
                    # attempt, however long the outage (a good message is never parked for it).
                    log.warning("message_waits_for_an_outage", reason=_reason(error)[:200])
                    await self._wait_out(message, origin, error)
                    self._sit_out_the_outage()
                    self._metrics.message_handled(event.type, "delayed")
                    return
                log.exception("message_failed", attempt=origin.attempt)
                await self._retry_or_park(message, origin, error)
                self._metrics.message_handled(event.type, "failed")
                return
            await message.ack()
            self._metrics.message_handled(event.type, "handled")

    async def _retry_or_park(
        self, message: AbstractIncomingMessage, origin: _Origin, error: BaseException
    ) -> None:
        if origin.attempt > len(self._retry_delays_ms):
            await self._park(message, origin, _reason(error))
            return
        delay = self._retry_delays_ms[origin.attempt - 1]
        copy = _copy_of(message, "", retry_queue(self._service, delay))
        await self._forward_then_ack(
            message,
            copy,
            {
                ATTEMPT_HEADER: str(origin.attempt + 1),
                ORIGIN_EXCHANGE_HEADER: origin.exchange,
                ORIGIN_ROUTING_KEY_HEADER: origin.routing_key,
                REASON_HEADER: _reason(error),
            },
        )

    def _sit_out_the_outage(self) -> None:
        """Stop taking messages until the database answers again.

        A replica cut off from its database would otherwise keep taking messages it cannot
        handle, each held unacknowledged for a server-selection timeout, where no other replica
        can handle it and nobody can see it waiting (sla-monitor judges deadlines by what waits).
        """
        if self._recovered is None or self._sitting_out is not None:
            return
        self._sitting_out = asyncio.create_task(self._sit_out(self._recovered))

    async def _sit_out(self, recovered: Callable[[], Awaitable[bool]]) -> None:
        try:
            if self._consumer_tag is not None:
                tag, self._consumer_tag = self._consumer_tag, None
                with contextlib.suppress(Exception):
                    await self._queue.cancel(tag)
                log.warning("consumer_paused_for_an_outage")
            while not await recovered():  # noqa: ASYNC110 (asking a server, not a flag)
                await asyncio.sleep(1.0)
            while self._consumer_tag is None:
                try:
                    self._consumer_tag = await self._queue.consume(self._on_message)
                except Exception:
                    await asyncio.sleep(1.0)
            log.info("consumer_resumed_after_an_outage")
        finally:
            self._sitting_out = None

    async def _wait_out(
        self,
        message: AbstractIncomingMessage,
        origin: _Origin,
        error: BaseException,
        *,
        waiting_since: float | None = None,
    ) -> None:
        """Back off through the retry tiers as a failure would, keeping the attempt number."""
        tier = min(origin.waits, len(self._retry_delays_ms) - 1)
        if tier < 0:  # no retry tiers configured: nowhere to wait but the inbox
            await message.nack(requeue=True)
            return
        copy = _copy_of(message, "", retry_queue(self._service, self._retry_delays_ms[tier]))
        headers = {
            ATTEMPT_HEADER: str(origin.attempt),
            WAITS_HEADER: str(origin.waits + 1),
            ORIGIN_EXCHANGE_HEADER: origin.exchange,
            ORIGIN_ROUTING_KEY_HEADER: origin.routing_key,
            REASON_HEADER: _reason(error),
        }
        if waiting_since is not None:
            headers[WAITING_SINCE_HEADER] = f"{waiting_since:.3f}"
        await self._forward_then_ack(message, copy, headers)

    async def _park(self, message: AbstractIncomingMessage, origin: _Origin, reason: str) -> None:
        log.warning(
            "message_parked", reason=reason, attempt=origin.attempt, routing_key=origin.routing_key
        )
        copy = _copy_of(message, "", dead_queue(self._service))
        await self._forward_then_ack(
            message,
            copy,
            {
                ATTEMPT_HEADER: str(origin.attempt),
                ORIGIN_EXCHANGE_HEADER: origin.exchange,
                ORIGIN_ROUTING_KEY_HEADER: origin.routing_key,
                REASON_HEADER: reason,
                PARKED_AT_HEADER: datetime.now(UTC).isoformat(),
            },
        )

    async def _forward_then_ack(
        self, message: AbstractIncomingMessage, copy: Outgoing, headers: dict[str, str]
    ) -> None:
        try:
            await self._publisher.publish(copy, extra_headers=headers)
        except Exception:
            # Could not hand the message on: give it back rather than lose it.
            log.exception("message_forward_failed", target=copy.routing_key)
            await message.nack(requeue=True)
            return
        await message.ack()


def _origin_of(message: AbstractIncomingMessage) -> _Origin:
    # Our own headers count only on a message that came back from a retry tier (through the
    # default exchange, which departments cannot write to). On a message a sender published
    # to an exchange they are the sender's word: a forged origin routing key would otherwise
    # let one department reply as another.
    trusted = not message.exchange
    headers = (message.headers or {}) if trusted else {}
    return _Origin(
        attempt=int(str(headers.get(ATTEMPT_HEADER, 1))),
        exchange=str(headers.get(ORIGIN_EXCHANGE_HEADER, message.exchange or "")),
        routing_key=str(headers.get(ORIGIN_ROUTING_KEY_HEADER, message.routing_key or "")),
        waits=int(str(headers.get(WAITS_HEADER, 0))),
        waiting_since=float(str(headers[WAITING_SINCE_HEADER]))
        if WAITING_SINCE_HEADER in headers
        else None,
    )


# A message's envelope, or why it is not one: decoded once, on arrival.
Decoded = CloudEvent | ValidationError


def _decode(body: bytes) -> Decoded:
    try:
        return CloudEvent.model_validate_json(body)
    except ValidationError as error:
        return error


def _journal_key(service: str, message: AbstractIncomingMessage) -> str:
    # Every gridloop message has a message id; a foreign one is known by its bytes.
    identity = message.message_id or hashlib.sha256(message.body).hexdigest()
    return f"{service}:{identity}"


def _copy_of(message: AbstractIncomingMessage, exchange: str, routing_key: str) -> Outgoing:
    kept = {
        key: str(value)
        for key, value in (message.headers or {}).items()
        if key.startswith("x-gridloop-")
    }
    return Outgoing(
        message_id=message.message_id or "",
        exchange=exchange,
        routing_key=routing_key,
        body=message.body,
        correlation_id=message.correlation_id,
        content_type=message.content_type or "application/octet-stream",
        headers=kept,
    )


def _reason(error: BaseException) -> str:
    if isinstance(error, PermanentError):
        # A handler's verdict is its own words, starting with its code ("not_your_order: ...").
        return str(error)[:1000]
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(body)'}: {item['msg']}"
            for item in error.errors()
        )
        return f"invalid message: {problems}"[:1000]
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[:1000]
