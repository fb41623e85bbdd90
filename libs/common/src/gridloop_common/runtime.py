"""Connections and background work one service process owns: broker, database, relay, consumer.

`ServiceRuntime` is built by each service's bootstrap and started/stopped by the FastAPI lifespan,
so nothing connects at import time and SIGTERM (uvicorn's shutdown) drains in-flight work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from gridloop_common.clock import Clock, SystemClock
from gridloop_common.contracts.base import Message
from gridloop_common.crash_journal import COLLECTION as CRASH_JOURNAL
from gridloop_common.crash_journal import MongoCrashJournal, crash_journal_indexes
from gridloop_common.messaging.broker import BROKER_UNREACHABLE, ServiceBroker
from gridloop_common.messaging.consumer import Consumer, Subscription, handlers_by_type
from gridloop_common.messaging.outgoing import Outgoing, envelope
from gridloop_common.messaging.publisher import Publisher
from gridloop_common.messaging.topology import exchanges_of, inbox_queue, retry_queue
from gridloop_common.metrics import ServiceMetrics
from gridloop_common.mongo import (
    Client,
    Collection,
    Database,
    IndexSpec,
    create_client,
    ensure_indexes,
    is_unavailable,
    ping,
)
from gridloop_common.outbox import OutboxRelay, outbox_indexes
from gridloop_common.settings import ServiceSettings
from gridloop_common.tasks import cancel_and_wait

log = structlog.stdlib.get_logger("gridloop.runtime")


@dataclass(frozen=True)
class InboxState:
    """How far this replica's consumer has come: what a judge of deadlines needs to know."""

    # Since when it has consumed without interruption; None while the broker is away.
    consuming_since: datetime | None
    # Messages waiting in the inbox and its retry tiers (every replica's); None when unknown.
    waiting: int | None

    @property
    def caught_up(self) -> bool:
        return self.consuming_since is not None and self.waiting == 0


# A loop the service runs for its whole life (e.g. sla-monitor's timer scan); cancelled on stop.
BackgroundLoop = Callable[[], Awaitable[None]]
# The event announcing "every event stored before this moment is published" (see `watermark`).
WatermarkEvent = Callable[[datetime], Message]
WATERMARK_EVERY_SECONDS = 1.0


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    clock: Clock
    mongo: Client
    metrics: ServiceMetrics
    subscriptions: Sequence[Subscription[Any]] = ()
    indexes: Sequence[IndexSpec] = ()
    outbox_collections: Sequence[str] = ()
    # Department codes whose `dept.<code>.orders` queues this service declares (dispatch).
    department_queues: Sequence[str] = ()
    background: Sequence[BackgroundLoop] = ()
    # Closed last on stop, after in-flight messages finished (e.g. an outgoing HTTP client).
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    # When set, every WATERMARK_EVERY_SECONDS the service publishes this event with how far
    # its outboxes have been published (dispatch: sla-monitor judges deadlines by it).
    watermark: WatermarkEvent | None = None
    broker: ServiceBroker | None = None
    publisher: Publisher | None = None
    relay: OutboxRelay | None = None
    _consumer: Consumer | None = None
    _consuming_since: datetime | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def database(self) -> Database:
        return self.mongo[self.settings.database_name]

    def collection(self, name: str) -> Collection:
        return self.database[name]

    def __post_init__(self) -> None:
        handlers_by_type(self.subscriptions)  # two handlers for one message: refuse to start
        # Exists from the start so request handlers can hand it work before the broker is up.
        self.relay = OutboxRelay(
            [self.collection(name) for name in self.outbox_collections],
            self.clock,
            sweep_interval_seconds=self.settings.outbox_sweep_interval_seconds,
            grace_seconds=self.settings.outbox_grace_seconds,
        )

    async def start(self) -> None:
        """Database first (it must answer), then the broker: tried once here, then in the
        background, so a service accepts work while the broker is down and catches up later."""
        await ensure_indexes(
            self.database,
            [
                *self.indexes,
                *(i for c in self.outbox_collections for i in outbox_indexes(c)),
                *(crash_journal_indexes() if self.subscriptions else ()),
            ],
        )
        try:
            await self._attach_broker()
        except BROKER_UNREACHABLE as error:
            log.warning("broker_unavailable", reason=str(error) or type(error).__name__)
            self._tasks.append(asyncio.create_task(self._attach_broker_eventually()))
        loops = [*self.background, *([self._announce_watermarks] if self.watermark else [])]
        self._tasks += [asyncio.create_task(_supervised(loop)) for loop in loops]
        log.info("service_started", port=self.settings.http_port)

    async def _attach_broker_eventually(self) -> None:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                await self._attach_broker()
            except BROKER_UNREACHABLE:
                delay = min(delay * 2, 10.0)
                continue
            log.info("broker_connected")
            return

    async def _attach_broker(self) -> None:
        settings = self.settings
        broker = await ServiceBroker.connect(
            settings.rabbitmq_url,
            service=settings.service_name,
            exchanges=exchanges_of(settings.service_name),
            department_queues=self.department_queues,
        )
        try:
            await self._start_on(broker)
        except BaseException:
            await broker.close()
            raise
        self.broker = broker

    async def _start_on(self, broker: ServiceBroker) -> None:
        settings = self.settings
        self.publisher = broker.publisher
        await self.require_relay().start(self.publisher)
        if self.subscriptions:
            inbox = await broker.open_inbox(
                service=settings.service_name,
                bindings=[b for s in self.subscriptions for b in s.all_bindings()],
                prefetch=settings.prefetch,
                retry_delays_ms=settings.retry_delays_ms,
                delivery_limit=settings.delivery_limit,
            )
            self._consumer = Consumer(
                service=settings.service_name,
                queue=inbox.queue,
                publisher=inbox.publisher,
                subscriptions=self.subscriptions,
                retry_delays_ms=settings.retry_delays_ms,
                metrics=self.metrics,
                journal=MongoCrashJournal(self.collection(CRASH_JOURNAL), self.clock),
                delivery_limit=settings.delivery_limit,
                poison_marker=settings.gridloop_fault_poison,
                raise_marker=settings.gridloop_fault_raise,
                is_outage=is_unavailable,
                recovered=lambda: ping(self.mongo),
                patience_seconds=settings.wait_for_earlier_seconds,
            )
            await self._consumer.start()
            self._consuming_since = self.clock.now()
        broker.on_lost(self._connection_lost)
        broker.on_restored(self._connection_back)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        if self._consumer is not None:
            await self._consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.broker is not None:
            await self.broker.close()
        await self.mongo.close()
        for close in self.closers:
            await close()
        log.info("service_stopped")

    async def _announce_watermarks(self) -> None:
        assert self.watermark is not None
        # A write may take up to the database timeout to become visible.
        margin = timedelta(milliseconds=self.settings.mongodb_timeout_ms)
        while True:
            await asyncio.sleep(WATERMARK_EVERY_SECONDS)
            if self.publisher is None:
                continue  # the broker is not reached: nothing is published, nothing announced
            try:
                until = await self.require_relay().published_until(self.clock.now(), margin)
                await self.publisher.publish(
                    envelope(
                        self.watermark(until),
                        source=self.settings.service_name,
                        time=self.clock.now(),
                    )
                )
            except Exception as error:  # the next one, a second later, says the same or more
                log.debug("watermark_not_announced", reason=str(error)[:200])

    def _connection_lost(self, reason: str | None) -> None:
        self._consuming_since = None
        log.warning("broker_connection_lost", reason=reason)

    def _connection_back(self) -> None:
        # The robust connection has restored the channel and its consumer.
        self._consuming_since = self.clock.now()
        log.info("broker_reconnected")

    async def inbox_state(self) -> InboxState:
        """Since when this replica consumes, and how many messages wait for the service."""
        since = self._consuming_since
        if self.broker is None or since is None:
            return InboxState(None, None)
        name = self.settings.service_name
        queues = [inbox_queue(name), *(retry_queue(name, d) for d in self.settings.retry_delays_ms)]
        waiting = await self.broker.waiting(queues)
        return InboxState(since, waiting) if waiting is not None else InboxState(None, None)

    def holding_since(self) -> datetime | None:
        """The earliest event time among the deliveries this replica's consumer holds: the
        broker counts them as unacknowledged, not as waiting (`Consumer.holding_since`)."""
        return None if self._consumer is None else self._consumer.holding_since()

    async def readiness(self) -> dict[str, bool]:
        broker = self.broker is not None and self.broker.is_open
        return {"broker": broker, "database": await ping(self.mongo)}

    def require_publisher(self) -> Publisher:
        if self.publisher is None:
            raise RuntimeError("runtime not started")
        return self.publisher

    def relay_now(
        self, collection: Collection, document_id: object, outgoings: Sequence[Outgoing] = ()
    ) -> None:
        """Ask the relay to publish a document's just-stored outbox events."""
        self.require_relay().notify(collection, document_id, outgoings)

    def require_relay(self) -> OutboxRelay:
        if self.relay is None:
            raise RuntimeError("runtime not started")
        return self.relay


def runtime_for(
    settings: ServiceSettings, clock: Clock | None = None, **parts: Any
) -> ServiceRuntime:
    """A runtime with this process's database client and metrics; `parts` are the service's own."""
    metrics = ServiceMetrics(settings.service_name)
    return ServiceRuntime(
        settings=settings,
        clock=clock or SystemClock(),
        mongo=create_client(
            settings.mongodb_url,
            server_selection_timeout_ms=settings.mongodb_timeout_ms,
            listeners=[metrics.database_commands],
        ),
        metrics=metrics,
        **parts,
    )


async def _supervised(loop: BackgroundLoop) -> None:
    """Keep a background loop alive: log a crash and start it again after a pause."""
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_loop_crashed", loop=getattr(loop, "__qualname__", "?"))
            await asyncio.sleep(1.0)
