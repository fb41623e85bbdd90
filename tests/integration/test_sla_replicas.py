"""Two sla-monitor processes share the timers; one is SIGKILLed mid-run; every breach fires once."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.contracts import EVENTS_EXCHANGE, CaseDispatched
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Client
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.secantus import free_port
from tests.integration.system import GRID, System

pytestmark = pytest.mark.integration

ORDERS = 60
PARTITIONS = 8
REPLICA_ENV = {
    "SLA_PARTITIONS": str(PARTITIONS),
    "SLA_LEASE_SECONDS": "1.5",
    "SLA_TICK_SECONDS": "0.2",
}


def dispatched(order: str, now: datetime, due_in: float) -> CaseDispatched:
    return CaseDispatched(
        case_id=f"case-{order}",
        order_id=order,
        department="city-mgmt",
        category_code="road-damage",
        grid_id=GRID,
        township_id="xijin",
        dispatched_at=now,
        accept_by=now + timedelta(seconds=due_in),
        complete_by=now + timedelta(hours=1),
    )


async def test_two_replicas_one_killed_mid_run_fire_every_breach_exactly_once(
    system: System, amqp: AbstractChannel, mongo_client: Client, tmp_path: Path
) -> None:
    breaches: list[tuple[str, str]] = []  # (order id, event id)

    async def on_breach(message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = json.loads(message.body)
            breaches.append((event["data"]["order_id"], event["id"]))

    await declare_exchanges(amqp)
    probe = await amqp.declare_queue(exclusive=True)
    await probe.bind(EVENTS_EXCHANGE, "sla.breached.#")
    await probe.consume(on_breach)
    # The warnings (75 % of each short window) need a consumer too: publishing is mandatory.
    warnings = await amqp.declare_queue(exclusive=True)
    await warnings.bind(EVENTS_EXCHANGE, "sla.warning.#")

    replicas = [
        ServiceProcess(
            name="sla-monitor",
            env=system.service_env("sla-monitor", {**REPLICA_ENV, "SLA_REPLICA_ID": name}),
            log_path=tmp_path / f"{name}.log",
            port=free_port(),
        )
        for name in ("replica-a", "replica-b")
    ]
    for replica in replicas:
        replica.start()
    try:
        for replica in replicas:
            replica.wait_ready()
        leases = mongo_client[system.isolated.database("sla-monitor")]["leases"]

        async def owners() -> Counter[str]:
            held = Counter[str]()
            now = datetime.now(UTC)
            async for lease in leases.find({"_id": {"$regex": "^partition:"}}):
                if lease.get("owner") and lease["expires_at"] > now:
                    held[lease["owner"]] += 1
            return held

        async def shared() -> bool:
            held = await owners()
            return held == Counter({"replica-a": 4, "replica-b": 4})

        await eventually(shared, what="each replica holds half the partitions", timeout=20)

        # Deadlines spread over the next 1.5-5.5 s, published through the broker like dispatch does.
        publisher = Publisher(amqp, app_id="test")
        now = datetime.now(UTC)
        orders = [f"o-replicas-{n:03d}" for n in range(ORDERS)]
        deadlines: dict[str, datetime] = {}
        for n, order in enumerate(orders):
            event = dispatched(order, now, due_in=1.5 + 4 * n / ORDERS)
            deadlines[order] = event.accept_by
            await publisher.publish(envelope(event, source="test/dispatch", time=now))

        async def some_fired() -> bool:
            return len(breaches) >= ORDERS // 4

        await eventually(some_fired, what="the first breaches", timeout=20)
        killed_at = datetime.now(UTC)
        replicas[0].kill()  # SIGKILL: no lease handed over, no outbox drained
        assert replicas[0].process is not None
        assert replicas[0].process.returncode == -signal.SIGKILL
        # The survivor takes the killed replica's partitions over only when their 1.5 s
        # leases run out.
        await asyncio.sleep(0.3)
        fired_before_kill = len(breaches)

        async def all_fired() -> bool:
            return {order for order, _ in breaches} == set(orders)

        await eventually(all_fired, what="every breach after the kill", timeout=30)
        assert await owners() == Counter({"replica-b": PARTITIONS})
        # Let a re-sent duplicate arrive if there is one: the survivor's outbox sweep runs every
        # 0.5 s and takes entries older than 1 s (FAST_ENV).
        await asyncio.sleep(1.5)
    finally:
        for replica in replicas:
            replica.stop()

    per_order = Counter(order for order, _ in breaches)
    ids_per_order = {order: {eid for o, eid in breaches if o == order} for order in orders}
    assert fired_before_kill < ORDERS, "the kill came mid-run"
    # Each clock was claimed once: one event id per order. A SIGKILL between publishing and
    # removing an outbox entry makes the survivor's sweep re-send the same id (consumers drop
    # it): only a breach the killed replica could have sent, one whose deadline had come by
    # the kill, and only once. How many that is depends on how many confirms and mark-sent
    # writes were in flight at the kill (CI once saw three), so the test bounds what may
    # repeat, not how often it happens. (It once judged "sent before the kill" by arrival at
    # the probe within 0.3 s of it; on a loaded machine the broker delivered the killed
    # replica's last publishes later than that, and a legitimate re-send failed the test.)
    assert all(len(ids) == 1 for ids in ids_per_order.values()), ids_per_order
    resent = {order for order, count in per_order.items() if count > 1}
    due_by_kill = {order for order, deadline in deadlines.items() if deadline <= killed_at}
    assert resent <= due_by_kill, f"re-sent though due only after the kill: {resent}"
    assert all(count <= 2 for count in per_order.values()), per_order
