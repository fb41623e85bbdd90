"""sla-monitor against the real broker and database: breaches, met clocks, redelivery, replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.clock import SystemClock
from gridloop_common.contracts import EVENTS_EXCHANGE, CaseAccepted, CaseDispatched
from gridloop_common.messaging import Outgoing, Publisher, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Client, Collection, Document
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_sla_monitor.app import create_app
from gridloop_sla_monitor.bootstrap import SlaMonitorDeps
from gridloop_sla_monitor.breaches import BreachScanner
from gridloop_sla_monitor.repository import TIMERS, TimerRepository
from gridloop_sla_monitor.settings import SlaMonitorSettings

pytestmark = pytest.mark.integration

DEPARTMENT = "city-mgmt"
CLOCK = SystemClock()


@dataclass
class Probe:
    """Every `sla.*` event the service published, as (routing key, CloudEvent) pairs."""

    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            self.seen.append((message.routing_key or "", json.loads(message.body)))

    async def arrived(self, order_id: str, routing_key: str) -> list[dict[str, Any]]:
        async def matching() -> list[dict[str, Any]]:
            return self.of(order_id, routing_key)

        return await eventually(matching, what=f"{routing_key} for {order_id}")

    def of(self, order_id: str, routing_key: str | None = None) -> list[dict[str, Any]]:
        return [
            event
            for key, event in self.seen
            if event["data"]["order_id"] == order_id and routing_key in (None, key)
        ]


@dataclass
class Running:
    deps: SlaMonitorDeps
    http: httpx.AsyncClient
    publisher: Publisher
    probe: Probe
    timers: Collection

    async def publish(self, outgoing: Outgoing) -> None:
        await self.publisher.publish(outgoing)

    async def timer(self, order_id: str) -> Document | None:
        return await self.timers.find_one({"_id": f"{order_id}:accept"})


@pytest.fixture
async def channel(isolated: Isolated) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect_robust(isolated.rabbitmq_url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await declare_exchanges(channel)
    yield channel
    await connection.close()


@pytest.fixture
async def service(
    isolated: Isolated, mongo_client: Client, channel: AbstractChannel
) -> AsyncIterator[Running]:
    # The probe is bound before the service starts: its events are published `mandatory`.
    probe = Probe()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(EVENTS_EXCHANGE, "sla.#")
    await queue.consume(probe.on_message)
    settings = SlaMonitorSettings(
        rabbitmq_url=isolated.rabbitmq_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("sla-monitor"),
        retry_delays_ms=(50, 100),
        sla_tick_seconds=0.1,
        outbox_sweep_interval_seconds=0.2,
        outbox_grace_seconds=0.5,
    )
    app = create_app(settings)
    deps: SlaMonitorDeps = app.state.deps
    await deps.runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sla-monitor"
        ) as http:
            yield Running(
                deps=deps,
                http=http,
                publisher=Publisher(channel, app_id="test"),
                probe=probe,
                timers=mongo_client[settings.database_name][TIMERS],
            )
    finally:
        await deps.runtime.stop()


def dispatched(order_id: str, accept_in_seconds: float) -> Outgoing:
    now = CLOCK.now()
    event = CaseDispatched(
        case_id=f"case-{order_id}",
        order_id=order_id,
        department=DEPARTMENT,
        category_code="road-damage",
        grid_id="g-001",
        township_id="t-01",
        dispatched_at=now,
        accept_by=now + timedelta(seconds=accept_in_seconds),
        complete_by=now + timedelta(days=3),
    )
    return envelope(event, source="test/dispatch", time=now, correlation_id=f"corr-{order_id}")


def accepted(order_id: str, at: datetime | None = None) -> Outgoing:
    now = CLOCK.now()
    event = CaseAccepted(
        case_id=f"case-{order_id}",
        order_id=order_id,
        department=DEPARTMENT,
        category_code="road-damage",
        grid_id="g-001",
        accepted_at=at or now,
    )
    return envelope(event, source="test/dispatch", time=now)


def unique(name: str) -> str:
    return f"{name}-{CLOCK.now().timestamp():.6f}"


BREACHED = f"sla.breached.accept.{DEPARTMENT}"
MET = f"sla.met.accept.{DEPARTMENT}"


async def test_unaccepted_order_breaches_once_despite_redelivery_and_late_acceptance(
    service: Running,
) -> None:
    order, marker = unique("late"), unique("marker")
    dispatch = dispatched(order, accept_in_seconds=1.0)
    await service.publish(dispatch)
    await service.publish(dispatch)  # a redelivery: same CloudEvent id

    breaches = await service.probe.arrived(order, BREACHED)
    data = breaches[0]["data"]
    assert data["clock"] == "accept"
    assert data["case_id"] == f"case-{order}"
    assert data["late_seconds"] >= 0
    assert breaches[0]["correlationid"] == f"corr-{order}"
    first = await service.timer(order)
    assert first is not None
    assert first["state"] == "breached"

    # The dispatch again after the breach, and the acceptance coming in late: no new event.
    await service.publish(dispatch)
    await service.publish(accepted(order))

    async def late_acceptance_recorded() -> Document | None:
        timer = await service.timer(order)
        return timer if timer and "accepted_late_at" in timer else None

    after = await eventually(late_acceptance_recorded, what="the late acceptance on the timer")
    assert after["fired_at"] == first["fired_at"]
    # A rearmed clock would be past due already and fire before this later one does.
    await service.publish(dispatched(marker, accept_in_seconds=0.5))
    await service.probe.arrived(marker, BREACHED)
    assert len(service.probe.of(order)) == 1

    response = await service.http.get(f"/v1/timers/{order}")
    assert response.status_code == 200
    body = response.json()
    assert body["department"] == DEPARTMENT
    [clock] = body["clocks"]
    assert clock["clock"] == "accept"
    assert clock["state"] == "breached"
    assert clock["fired_at"] is not None
    assert clock["accepted_late_at"] is not None


async def test_order_accepted_in_time_is_met_and_never_breaches(service: Running) -> None:
    on_time, early, marker = unique("on-time"), unique("early"), unique("marker")
    await service.publish(dispatched(on_time, accept_in_seconds=1.0))
    await service.publish(accepted(on_time))

    # The acceptance overtakes its dispatch: the clock must still end up met, not breached.
    await service.publish(accepted(early))

    async def stopped_before_start() -> Document | None:
        timer = await service.timer(early)
        return timer if timer and timer["state"] == "stopped" else None

    await eventually(stopped_before_start, what="the early acceptance stored")
    await service.publish(dispatched(early, accept_in_seconds=1.0))

    for order in (on_time, early):
        await service.probe.arrived(order, MET)
    # Both deadlines pass before this one; a wrongly running clock would have fired by then.
    await service.publish(dispatched(marker, accept_in_seconds=1.5))
    await service.probe.arrived(marker, BREACHED)
    for order in (on_time, early):
        events = service.probe.of(order)
        assert [event["type"] for event in events] == ["org.gridloop.sla.met.v1"]
        timer = await service.timer(order)
        assert timer is not None
        assert timer["state"] == "met"
        assert timer["due_at"] is not None

    response = await service.http.get(f"/v1/timers/{on_time}")
    assert response.json()["clocks"][0]["state"] == "met"


async def test_unknown_order_is_a_machine_readable_404(service: Running) -> None:
    response = await service.http.get("/v1/timers/no-such-order")
    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"


@dataclass
class RecordingRelay:
    notified: list[str] = field(default_factory=list)

    def __call__(self, collection: Collection, document_id: Any) -> None:
        self.notified.append(document_id)


async def test_two_replicas_scanning_the_same_clocks_fire_each_once(
    isolated: Isolated, mongo_client: Client
) -> None:
    database = isolated.database("sla-monitor")
    now = CLOCK.now()
    ids = [f"replica-{n}:accept" for n in range(40)]
    await mongo_client[database][TIMERS].insert_many(
        [
            {
                "_id": timer,
                "order_id": timer.split(":")[0],
                "case_id": "case-x",
                "department": DEPARTMENT,
                "clock": "accept",
                "state": "running",
                "due_at": now - timedelta(seconds=5),
            }
            for timer in ids
        ]
    )
    relays = [RecordingRelay(), RecordingRelay()]
    # Two clients, as two processes would have; a small batch forces several rounds of racing.
    clients = [Client(isolated.mongodb_url, tz_aware=True) for _ in relays]
    scanners = [
        BreachScanner(
            TimerRepository(client[database][TIMERS], relay_now=relay),
            CLOCK,
            tick_seconds=0.05,
            batch=7,
        )
        for client, relay in zip(clients, relays, strict=True)
    ]
    try:
        for _ in range(10):
            await asyncio.gather(*(scanner.scan_once() for scanner in scanners))
    finally:
        for client in clients:
            await client.close()

    fired = relays[0].notified + relays[1].notified
    assert sorted(fired) == sorted(ids)
    async for timer in mongo_client[database][TIMERS].find({}):
        assert timer["state"] == "breached"
        assert len(timer["outbox"]) == 1
