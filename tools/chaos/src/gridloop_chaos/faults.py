"""The faults the suite strikes, each a start and an end, and the schedule they come in.

A fault knows which services it affects (to wait for them to be ready again, and to time their
recovery) and what it does to the system. Strikes run in a worker thread where they block
(process waits, rabbitmqctl), so the simulator's event loop keeps playing the city meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aio_pika

from gridloop_chaos.system import CitySystem
from gridloop_common.messaging.topology import inbox_queue
from gridloop_common.testing.processes import SERVICES


@dataclass
class Outcome:
    """What happened when a fault struck: when, how long the system took to be whole again."""

    name: str
    started_at: float = 0.0
    healed_at: float = 0.0  # the fault lifted: process restarted, broker back, link restored
    ready_after: float | None = None  # seconds from healed_at until every replica was ready
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Fault:
    name: str
    services: tuple[str, ...]

    async def strike(self, system: CitySystem) -> None:
        raise NotImplementedError

    async def heal(self, system: CitySystem) -> None:
        """Lift the fault; return when it is lifted (not when the system has recovered)."""

    def unavailable(self, system: CitySystem) -> str | None:
        """Why this fault cannot be struck on this system (None: it can)."""
        return None


@dataclass
class KillReplicas(Fault):
    """SIGKILL the named replicas; the supervisor starts them again after `hold` seconds."""

    replicas: tuple[str, ...] = ()
    hold: float = 3.0

    async def strike(self, system: CitySystem) -> None:
        for name in self.replicas:
            system.supervisor.kill(name, hold_for=self.hold)

    async def heal(self, system: CitySystem) -> None:
        await asyncio.sleep(self.hold)
        # The supervisor's poll starts them; wait until each has been started again.
        while any(not system.supervisor.programs[n].running for n in self.replicas):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


@dataclass
class Poison(Fault):
    """A message in each named inbox that kills its consumer on every delivery; healed when
    each is parked (after DELIVERY_LIMIT crashes and the supervisor's restarts)."""

    marker: str = ""
    timeout: float = 180.0
    _parked_before: dict[str, int] = field(default_factory=dict)

    async def strike(self, system: CitySystem) -> None:
        # An earlier cycle's poison is parked already: healed means one more than now.
        self._parked_before = {s: await self._parked(system, s) for s in self.services}
        connection = await aio_pika.connect(system.rabbitmq_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            for service in self.services:
                body = json.dumps(
                    {
                        "specversion": "1.0",
                        "id": str(uuid.uuid4()),
                        "source": "chaos/poison",
                        "type": "org.gridloop.report.received.v1",
                        "time": datetime.now(UTC).isoformat(),
                        "data": {"description": self.marker},
                    }
                ).encode()
                await channel.default_exchange.publish(
                    aio_pika.Message(body, message_id=str(uuid.uuid4()), delivery_mode=2),
                    routing_key=inbox_queue(service),
                )

    async def heal(self, system: CitySystem) -> None:
        """Healed when every poison is parked. An inbox still working through the messages
        ahead of its poison is not stuck: the `timeout` counts from its last acknowledgement."""
        waiting = set(self.services)
        acked = await asyncio.to_thread(system.acknowledged, [inbox_queue(s) for s in waiting])
        progress_at = {service: time.monotonic() for service in waiting}
        while waiting:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            latest = await asyncio.to_thread(system.acknowledged, [inbox_queue(s) for s in waiting])
            for service in sorted(waiting):
                if await self._parked(system, service) > self._parked_before[service]:
                    waiting.discard(service)
                elif latest.get(inbox_queue(service), 0) > acked.get(inbox_queue(service), 0):
                    acked[inbox_queue(service)] = latest[inbox_queue(service)]
                    progress_at[service] = now
            stuck = sorted(s for s in waiting if now - progress_at[s] > self.timeout)
            if stuck:
                raise RuntimeError(
                    f"poison not parked, its inbox acknowledging nothing for "
                    f"{self.timeout:.0f} s: {stuck}"
                )

    async def _parked(self, system: CitySystem, service: str) -> int:
        return sum(self.marker.encode() in m.body for m in await system.parked(service))


@dataclass
class BrokerRestart(Fault):
    down_for: float = 5.0

    def unavailable(self, system: CitySystem) -> str | None:
        return None if system.broker_restartable else "the broker is not this machine's"

    async def strike(self, system: CitySystem) -> None:
        self._task = asyncio.create_task(asyncio.to_thread(system.restart_broker, self.down_for))

    async def heal(self, system: CitySystem) -> None:
        await self._task


@dataclass
class DatabaseRestart(Fault):
    down_for: float = 3.0

    def unavailable(self, system: CitySystem) -> str | None:
        return None if system.database_killable else "the database server is given by URL"

    async def strike(self, system: CitySystem) -> None:
        await asyncio.to_thread(system.kill_database)

    async def heal(self, system: CitySystem) -> None:
        await asyncio.sleep(self.down_for)
        await asyncio.to_thread(system.start_database)


@dataclass
class NetworkCut(Fault):
    """Every connection of one replica to the broker or the database is dropped, and new ones
    refused, for longer than the clients' timeouts."""

    replica: str = ""
    target: str = "broker"  # or "database"
    duration: float = 8.0

    async def strike(self, system: CitySystem) -> None:
        await asyncio.to_thread(system.proxies.cut, (self.replica, self.target))

    async def heal(self, system: CitySystem) -> None:
        await asyncio.sleep(self.duration)
        await asyncio.to_thread(system.proxies.restore, (self.replica, self.target))


@dataclass
class Together(Fault):
    """Several faults at once: struck together, lifted together."""

    parts: tuple[Fault, ...] = ()

    def unavailable(self, system: CitySystem) -> str | None:
        reasons = [r for p in self.parts if (r := p.unavailable(system))]
        return "; ".join(reasons) or None

    async def strike(self, system: CitySystem) -> None:
        for part in self.parts:
            await part.strike(system)

    async def heal(self, system: CitySystem) -> None:
        await asyncio.gather(*(part.heal(system) for part in self.parts))


# --- the schedule --------------------------------------------------------------------------

# Replicas whose connections run through a proxy a network cut can break.
PROXIED: tuple[tuple[str, str], ...] = (
    ("dispatch-1", "broker"),
    ("intake-1", "database"),
    ("sla-monitor-1", "database"),
    ("notify-1", "broker"),
)


def kill_service(service: str, system_replicas: int, hold: float) -> KillReplicas:
    names = tuple(f"{service}-{n}" for n in range(1, system_replicas + 1))
    return KillReplicas(f"SIGKILL {service} (every replica)", (service,), names, hold)


def schedule(
    replicas: int, marker: str, *, hold: float = 3.0, cut: float = 8.0, overlaps: bool = True
) -> list[Fault]:
    """One fault at a time, then (with `overlaps`) several at once."""
    services = tuple(SERVICES)
    faults: list[Fault] = [kill_service(s, replicas, hold) for s in services]
    if replicas > 1:
        faults.append(
            KillReplicas(
                "SIGKILL one replica of every service",
                services,
                tuple(f"{s}-1" for s in services),
                hold,
            )
        )
    faults += [
        Poison("a message that kills its consumer, in every inbox", services, marker),
        BrokerRestart("RabbitMQ restarted (stop_app / start_app)", services, down_for=hold + 2),
        DatabaseRestart("database SIGKILLed, restarted on its data", services, down_for=hold),
        NetworkCut("network cut: dispatch-1 ↔ broker", ("dispatch",), "dispatch-1", "broker", cut),
        NetworkCut("network cut: intake-1 ↔ database", ("intake",), "intake-1", "database", cut),
        NetworkCut(
            "network cut: sla-monitor-1 ↔ database",
            ("sla-monitor",),
            "sla-monitor-1",
            "database",
            cut,
        ),
    ]
    if not overlaps:
        return faults
    faults += [
        Together(
            "overlap: SIGKILL dispatch + RabbitMQ restart",
            ("dispatch", *services),
            (
                kill_service("dispatch", replicas, hold),
                BrokerRestart("", services, down_for=hold + 2),
            ),
        ),
        Together(
            "overlap: SIGKILL sla-monitor + database restart + notify-1 ↔ broker cut",
            services,
            (
                kill_service("sla-monitor", replicas, hold),
                DatabaseRestart("", services, down_for=hold),
                NetworkCut("", ("notify",), "notify-1", "broker", cut),
            ),
        ),
    ]
    return faults


def expected_duration(faults: Sequence[Fault], *, gap: float) -> float:
    """A rough length of the schedule, to spread the reports over it."""
    return sum(gap + _hold(fault) for fault in faults)


def _hold(fault: Fault) -> float:
    """Seconds a fault takes from strike to every replica ready, as measured on 2 cores."""
    if isinstance(fault, KillReplicas):
        return fault.hold + 10.0
    if isinstance(fault, BrokerRestart):
        return fault.down_for + 6.0
    if isinstance(fault, DatabaseRestart):
        return fault.down_for + 3.0
    if isinstance(fault, NetworkCut):
        return fault.duration + 2.0
    if isinstance(fault, Poison):
        return 45.0
    if isinstance(fault, Together):
        return max(_hold(p) for p in fault.parts)
    return 0.0
