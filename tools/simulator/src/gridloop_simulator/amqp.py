"""A consumer that stays subscribed through broker restarts, as a department's or a monitor's
system must: connect, subscribe, and when the connection goes, do it all again.

aio-pika's robust connection restores consumers by itself, but in the fault suite a monitor
restored that way after a broker restart stopped receiving (281 events left in its queue), so
the simulated systems own their reconnection, in a loop one can read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from gridloop_common.tasks import cancel_and_wait

OnMessage = Callable[[AbstractIncomingMessage], Awaitable[None]]
# Gets the queue to consume on a fresh channel (declare and bind it, or look it up).
QueueOf = Callable[[AbstractChannel], Awaitable[AbstractQueue]]


class Subscriber:
    def __init__(
        self, url: str, name: str, queue_of: QueueOf, on_message: OnMessage, *, prefetch: int
    ) -> None:
        self._url = url
        self._name = name
        self._queue_of = queue_of
        self._on_message = on_message
        self._prefetch = prefetch
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.channel: AbstractChannel | None = None
        self.connections = 0

    async def start(self, timeout: float = 30.0) -> None:
        """Subscribe; fail if the first connection cannot be made within `timeout`."""
        first = await self._connect()  # raises: wrong credentials must stop the simulation
        self._task = asyncio.create_task(self._stay_subscribed(first))
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _connect(self) -> aio_pika.abc.AbstractConnection:
        connection = await aio_pika.connect(
            self._url, client_properties={"connection_name": self._name}
        )
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await self._queue_of(channel)
            await queue.consume(self._on_message)
        except BaseException:
            await connection.close()
            raise
        self.channel = channel
        self.connections += 1
        self._connected.set()
        return connection

    async def _stay_subscribed(self, connection: aio_pika.abc.AbstractConnection) -> None:
        while True:
            try:
                await _closed(connection)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
            self._connected.clear()
            self.channel = None
            connection = await self._reconnect()

    async def _reconnect(self) -> aio_pika.abc.AbstractConnection:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                return await self._connect()
            except Exception:
                delay = min(delay * 2, 5.0)


async def _closed(connection: aio_pika.abc.AbstractConnection) -> None:
    """Return once the connection is gone (the broker stopped, the network cut it)."""
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_: lost.set())
    if connection.is_closed:
        return
    await lost.wait()
