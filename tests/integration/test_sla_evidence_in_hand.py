"""An acceptance in one sla-monitor replica's hands stops the other from announcing its breach.

Replica B is cut from its database just before acceptances dated before their deadlines arrive:
the ones B receives sit in its handlers (waiting on the database, unacknowledged: the broker
counts them as neither waiting nor done) past the deadlines, while replica A finds the inbox empty.
A must wait for B's word (its heartbeat says what it holds) or for B's heartbeat to lapse, and so
hear every acceptance before judging (docs/reliability.md, "Why a breach can be announced for a
clock met in time").
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.contracts import EVENTS_EXCHANGE, CaseAccepted, CaseDispatched
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Client
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.secantus import free_port
from gridloop_common.testing.tcp_proxy import TcpProxy
from tests.integration.system import GRID, System

pytestmark = pytest.mark.integration

ORDERS = 40
PARTITIONS = 8
# B's handlers wait 3 s for the database; its heartbeat lapses after 6 s (longer, as it must be).
REPLICA_ENV = {
    "SLA_PARTITIONS": str(PARTITIONS),
    "SLA_LEASE_SECONDS": "6",
    "SLA_TICK_SECONDS": "0.2",
}
B_DATABASE_TIMEOUT_MS = "3000"


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


async def test_an_acceptance_held_by_one_replica_is_heard_before_the_other_judges(
    system: System, amqp: AbstractChannel, mongo_client: Client, tmp_path: Path
) -> None:
    breached: list[str] = []

    async def on_breach(message: AbstractIncomingMessage) -> None:
        async with message.process():
            breached.append(json.loads(message.body)["data"]["order_id"])

    await declare_exchanges(amqp)
    probe = await amqp.declare_queue(exclusive=True)
    await probe.bind(EVENTS_EXCHANGE, "sla.breached.#")
    await probe.consume(on_breach)
    # Warnings and verdicts need a queue too: publishing is mandatory.
    others = await amqp.declare_queue(exclusive=True)
    await others.bind(EVENTS_EXCHANGE, "sla.#")

    database = urlsplit(system.isolated.mongodb_url)
    proxy = TcpProxy(free_port(), database.hostname or "127.0.0.1", database.port or 27017)
    await proxy.start()
    a = ServiceProcess(
        name="sla-monitor",
        env=system.service_env("sla-monitor", {**REPLICA_ENV, "SLA_REPLICA_ID": "replica-a"}),
        log_path=tmp_path / "replica-a.log",
        port=free_port(),
    )
    b_env = {
        **REPLICA_ENV,
        "SLA_REPLICA_ID": "replica-b",
        "MONGODB_URL": via(system.isolated.mongodb_url, proxy.listen_port),
        "MONGODB_TIMEOUT_MS": B_DATABASE_TIMEOUT_MS,
    }
    b = ServiceProcess(
        name="sla-monitor",
        env=system.service_env("sla-monitor", b_env),
        log_path=tmp_path / "replica-b.log",
        port=free_port(),
    )
    database_sla = mongo_client[system.isolated.database("sla-monitor")]
    for replica in (a, b):
        replica.start()
    try:
        for replica in (a, b):
            # In a thread: the proxy runs on this loop, and B's start needs it.
            await asyncio.to_thread(replica.wait_ready)

        async def shared() -> bool:
            held = Counter[str]()
            now = datetime.now(UTC)
            async for lease in database_sla["leases"].find({"_id": {"$regex": "^partition:"}}):
                if lease.get("owner") and lease["expires_at"] > now:
                    held[lease["owner"]] += 1
            return held == Counter({"replica-a": 4, "replica-b": 4})

        await eventually(shared, what="each replica holds half the partitions", timeout=30)

        publisher = Publisher(amqp, app_id="test")
        now = datetime.now(UTC)
        due = now + timedelta(seconds=6)
        orders = [f"o-in-hand-{n:03d}" for n in range(ORDERS)]
        for order in orders:
            event = CaseDispatched(
                case_id=f"case-{order}",
                order_id=order,
                department="city-mgmt",
                category_code="road-damage",
                grid_id=GRID,
                township_id="xijin",
                dispatched_at=now,
                accept_by=due,
                complete_by=due + timedelta(hours=1),
            )
            await publisher.publish(envelope(event, source="test/dispatch", time=now))

        async def armed() -> bool:
            query = {"order_id": {"$in": orders}, "clock": "accept"}
            return await database_sla["timers"].count_documents(query) == ORDERS

        await eventually(armed, what="every accept clock armed", timeout=5)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 1.5))
        await proxy.stop()  # B loses its database
        accepted_at = due - timedelta(seconds=1)
        for order in orders:
            acceptance = CaseAccepted(
                case_id=f"case-{order}",
                order_id=order,
                department="city-mgmt",
                category_code="road-damage",
                grid_id=GRID,
                accepted_at=accepted_at,
            )
            await publisher.publish(envelope(acceptance, source="test/dispatch", time=accepted_at))
        # Past the deadline, B's heartbeat lapsed, and its held acceptances back in the inbox.
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 8))
        proxy = TcpProxy(
            proxy.listen_port, database.hostname or "127.0.0.1", database.port or 27017
        )
        await proxy.start()

        async def settled() -> bool:
            query = {"order_id": {"$in": orders}, "clock": "accept", "state": "running"}
            return await database_sla["timers"].count_documents(query) == 0

        await eventually(settled, what="every accept clock settled", timeout=30)
        states = Counter[str]()
        async for timer in database_sla["timers"].find(
            {"order_id": {"$in": orders}, "clock": "accept"}
        ):
            states[timer["state"]] += 1
        await asyncio.sleep(1)  # a breach on its way would arrive by now
    finally:
        for replica in (a, b):
            replica.stop()
        await proxy.stop()

    assert "waits_for_an_outage" in (tmp_path / "replica-b.log").read_text(), (
        "B held acceptances while cut off (else the test proves nothing)"
    )
    assert breached == [], f"breaches announced for clocks accepted in time: {sorted(breached)}"
    assert states == Counter({"met": ORDERS}), states
