"""A service process's broker connection: connect, declare its topology, open its channels.

The runtime holds one `ServiceBroker` and never sees aio-pika: what it needs of a connection
(a publisher, an inbox to consume, whether the link is up, how many messages wait) is here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

from gridloop_common.messaging.publisher import Publisher
from gridloop_common.messaging.topology import (
    Binding,
    declare_department_queue,
    declare_exchanges,
    declare_inbox,
)

# What a connection attempt raises when the broker is away (the runtime tries again later).
BROKER_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    aio_pika.exceptions.AMQPConnectionError,
)


@dataclass(frozen=True)
class Inbox:
    """The service's inbox queue and the channel it is consumed on (with its own prefetch, so
    the limit holds back consumption only, never publishing)."""

    queue: AbstractQueue
    channel: AbstractChannel
    # Publishes retries and parked copies on the consuming channel.
    publisher: Publisher


class ServiceBroker:
    def __init__(self, connection: AbstractRobustConnection, publisher: Publisher) -> None:
        self._connection = connection
        self.publisher = publisher
        self._inbox: Inbox | None = None
        self._up = True
        self._when_lost: list[Callable[[str | None], None]] = []
        self._when_restored: list[Callable[[], None]] = []
        connection.close_callbacks.add(self._closed)
        connection.reconnect_callbacks.add(self._reconnected)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        service: str,
        exchanges: Iterable[str],
        department_queues: Sequence[str] = (),
    ) -> ServiceBroker:
        """A robust connection (aio-pika restores channels, queues and consumers after a
        loss), the exchanges this service uses and, for the one that sends orders, the
        departments' queues; closed again if any declaration fails."""
        connection = await aio_pika.connect_robust(
            url, client_properties={"connection_name": service}
        )
        try:
            channel = await _confirmed_channel(connection)
            await declare_exchanges(channel, exchanges)
            for code in department_queues:
                await declare_department_queue(channel, code)
        except BaseException:
            await connection.close()
            raise
        return cls(connection, Publisher(channel, app_id=service))

    async def open_inbox(
        self,
        *,
        service: str,
        bindings: Iterable[Binding],
        prefetch: int,
        retry_delays_ms: Sequence[int],
        delivery_limit: int,
    ) -> Inbox:
        channel = await _confirmed_channel(self._connection)
        await channel.set_qos(prefetch_count=prefetch)
        queue = await declare_inbox(channel, service, bindings, retry_delays_ms, delivery_limit)
        self._inbox = Inbox(queue, channel, Publisher(channel, app_id=service))
        return self._inbox

    @asynccontextmanager
    async def side_channel(self, app_id: str) -> AsyncIterator[tuple[AbstractChannel, Publisher]]:
        """A confirmed channel of its own and a publisher on it, closed when done: an operator's
        look at or replay of parked messages, whose unacknowledged messages the broker gives
        back the moment the channel closes, whatever happened in between."""
        channel = await _confirmed_channel(self._connection)
        try:
            yield channel, Publisher(channel, app_id=app_id)
        finally:
            await channel.close()

    def on_lost(self, callback: Callable[[str | None], None]) -> None:
        """`callback(reason)` when the connection is lost (it is then being restored)."""
        self._when_lost.append(callback)

    def on_restored(self, callback: Callable[[], None]) -> None:
        """`callback()` once the robust connection has restored its channels and consumers."""
        self._when_restored.append(callback)

    def _closed(self, _connection: object, reason: object = None) -> None:
        # Once per loss: aio-pika also reports every failed attempt to reconnect as a close.
        if self._up:
            self._up = False
            for callback in self._when_lost:
                callback(str(reason)[:200] if reason else None)

    def _reconnected(self, *_: object) -> None:
        self._up = True
        for callback in self._when_restored:
            callback()

    @property
    def is_open(self) -> bool:
        return not self._connection.is_closed

    async def waiting(self, queues: Iterable[str]) -> int | None:
        """Messages waiting in these queues, as the broker counts them now; None while the
        inbox channel is down or the broker does not answer."""
        inbox = self._inbox
        if inbox is None or inbox.channel.is_closed:
            return None
        try:
            # The underlying channel: aio-pika's robust channel answers a passive declare of a
            # queue it knows from memory, with the count as it was then.
            underlay = await inbox.channel.get_underlay_channel()
            counts = [(await underlay.queue_declare(q, passive=True)).message_count for q in queues]
        except Exception:
            return None
        return sum(c or 0 for c in counts)

    async def close(self) -> None:
        await self._connection.close()


async def _confirmed_channel(connection: AbstractRobustConnection) -> AbstractChannel:
    # Confirms, and returns raised: an unroutable mandatory message is an error, not silence.
    return await connection.channel(publisher_confirms=True, on_return_raises=True)
