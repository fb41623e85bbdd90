"""Poison benchmark: good traffic's throughput with and without 1,000 poison messages beside it.

    uv run python bench/poison/run.py [--good 1500] [--poison 1000] [--pairs 2]

The whole system as the fault suite starts it (gridloop_chaos.system: every service as its own
process, one replica each, on a fresh vhost and databases; RABBITMQ_URL / MONGODB_URL, else the
local broker and a fresh MongoDB-wire stand-in). Rounds alternate clean, poisoned, clean, ...;
each round publishes `--good` valid `report.received` events (as intake's outbox would, many
confirms in flight) and the benchmark plays every department just enough to count the orders.
A poisoned round interleaves `--poison` messages with the good ones, spread over every inbox and
over `gridloop.replies`:

  * bad JSON, a CloudEvent of a handled type with a wrong schema, an unknown type: into each of
    the five inboxes (intake, dispatch, sla-monitor, scoring, notify);
  * a valid message whose handler raises (the test fault GRIDLOOP_FAULT_RAISE): into each inbox,
    it goes through the retry tiers (100 ms, 300 ms here) before it is parked;
  * a department's accept for an order that does not exist: to `gridloop.replies`.

Per round it prints the good traffic's rates: orders at the departments per second (report in,
case opened, order out: the dispatch path), and good reports per second until every inbox and
retry queue is empty (the whole loop, poison included in what had to be worked through). A
poisoned round is compared with the mean of the clean rounds on either side of it. Then it checks
that every poison message is parked in its service's `<service>.dead` with a reason, that
nothing else is, and that every good report became exactly one order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_chaos.system import CitySystem, SystemOptions, temporary_work_dir
from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS
from gridloop_common.contracts import AcceptOrder, CaseClosed, Message, ReportReceived
from gridloop_common.envelope import CONTENT_TYPE
from gridloop_common.messaging.outgoing import envelope
from gridloop_common.messaging.parked import ParkedMessage, count_by_reason
from gridloop_common.messaging.topology import (
    dead_queue,
    department_queue,
    inbox_queue,
    retry_queue,
)
from gridloop_common.registry import load_registry
from gridloop_common.services import SERVICES
from gridloop_dispatch.settings import DispatchSettings

RETRY_DELAYS_MS = (100, 300)
POISON_ID = "poison-"
IN_FLIGHT = 200  # confirms awaited together: the pipelined publishing intake's relay does
# Carried by the messages whose handler raises (GRIDLOOP_FAULT_RAISE in every service).
MARKER = f"bench-raise-{uuid.uuid4().hex[:8]}"
KINDS = ("bad JSON", "wrong schema", "unknown type", "handler raises")


@dataclass(frozen=True)
class Outgoing:
    exchange: str  # "" is the default exchange: straight into the queue named by the key
    routing_key: str
    message: aio_pika.Message


@dataclass
class Round:
    number: int
    poisoned: bool
    good: int
    poison: int
    published_s: float = 0.0
    orders_s: float = 0.0
    drained_s: float = 0.0

    @property
    def orders_per_s(self) -> float:
        return self.good / self.orders_s

    @property
    def loop_per_s(self) -> float:
        return self.good / self.drained_s


@dataclass
class Departments:
    """Counts the orders arriving on every department queue (acked; no replies needed)."""

    seen: Counter[str] = field(default_factory=Counter)  # case id -> orders
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0

    async def start(self, channel: AbstractChannel) -> None:
        await channel.set_qos(prefetch_count=500)
        for department in DEPARTMENTS:
            queue = await channel.get_queue(department_queue(department.code), ensure=False)
            await queue.consume(self._on_order)

    async def _on_order(self, message: AbstractIncomingMessage) -> None:
        self.seen[json.loads(message.body)["data"]["case_id"]] += 1
        await message.ack()
        if sum(self.seen.values()) >= self.target:
            self.arrived.set()

    async def wait_for(self, total: int) -> None:
        self.target = total
        if sum(self.seen.values()) < total:
            self.arrived.clear()
            await self.arrived.wait()


class Traffic:
    """Good reports at points over every grid, and poison, as AMQP messages."""

    def __init__(self, seed: int, marker: str) -> None:
        self._rng = random.Random(seed)
        self._grids = load_registry().grids
        # Categories dispatch routes at once (a local-first one waits for its village: no order).
        held = set(DispatchSettings.model_fields["local_first_categories"].default)
        self._categories = [c for c in CATEGORIES if c.keywords and c.code not in held]
        self._marker = marker

    def report(self) -> Outgoing:
        return _event(self._report("a pothole by the school gate"))

    def _report(self, description: str) -> ReportReceived:
        return ReportReceived(
            report_id=f"rep-bench-{uuid.uuid4().hex}",
            channel="native",
            grid_id=self._rng.choice(self._grids).id,
            category_code=self._rng.choice(self._categories).code,
            description=description,
            reported_at=datetime.now(UTC),
        )

    def poison(self, total: int) -> list[Outgoing]:
        """`total` poison messages: a fifth of them accepts for unknown orders, the rest spread
        evenly over the four kinds in each of the five inboxes."""
        replies = total // 5
        per_cell = (total - replies) // (len(SERVICES) * len(KINDS))
        out = [self._unknown_order() for _ in range(total - per_cell * 20)]
        for service in SERVICES:
            for kind in KINDS:
                out += [self._into_inbox(service, kind) for _ in range(per_cell)]
        self._rng.shuffle(out)
        return out

    def _into_inbox(self, service: str, kind: str) -> Outgoing:
        if kind == "bad JSON":
            body = b'{"specversion": "1.0", "type": '
        elif kind == "wrong schema":  # a type the service handles, with data it cannot read
            body = _cloud_event(_handled_type(service), {"case_id": 17, "closed_at": "yesterday"})
        elif kind == "unknown type":
            body = _cloud_event("org.gridloop.pothole.filled.v9", {"case_id": "c-1"})
        else:  # a valid message of a type the service handles; its handler raises
            handled: Message
            if _handled_type(service) == CaseClosed.TYPE:
                handled = CaseClosed(
                    case_id=f"case-bench-{uuid.uuid4().hex}",
                    order_id=f"ord-bench-{uuid.uuid4().hex}",
                    department="city-mgmt",
                    category_code="road-damage",
                    grid_id=self._grids[0].id,
                    closed_at=datetime.now(UTC),
                    satisfied=True,
                    comment=self._marker,
                )
            else:
                handled = self._report(self._marker)
            body = _event(handled, poison=True).message.body
        return Outgoing("", inbox_queue(service), _message(body))

    def _unknown_order(self) -> Outgoing:
        department = self._rng.choice(DEPARTMENTS).code
        reply = AcceptOrder(order_id=f"ord-nobody-{uuid.uuid4().hex}", department=department)
        return _event(reply, poison=True)


def _handled_type(service: str) -> str:
    """A message type the service subscribes to: case.closed for intake (it tells the report's
    reporter) and sla-monitor (it stops the clocks), report.received for the others."""
    return CaseClosed.TYPE if service in ("intake", "sla-monitor") else ReportReceived.TYPE


def _cloud_event(type_: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{POISON_ID}{uuid.uuid4().hex}",
            "source": "bench/poison",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


def _message(body: bytes, message_id: str | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id or f"{POISON_ID}{uuid.uuid4().hex}",
    )


def _event(message: Message, poison: bool = False) -> Outgoing:
    event_id = f"{POISON_ID}{uuid.uuid4().hex}" if poison else None
    out = envelope(message, source="bench/poison", time=datetime.now(UTC), event_id=event_id)
    return Outgoing(out.exchange, out.routing_key, _message(out.body, out.message_id))


def interleave(good: list[Outgoing], poison: list[Outgoing]) -> Iterator[Outgoing]:
    """The poison spread evenly through the good traffic, from its first message to its last."""
    if not poison:
        yield from good
        return
    every = len(good) / len(poison)
    next_poison = 0.0
    poisons = iter(poison)
    for n, message in enumerate(good):
        while next_poison <= n:
            yield next(poisons)
            next_poison += every
        yield message
    yield from poisons


async def publish(channel: AbstractChannel, messages: Iterator[Outgoing]) -> None:
    exchanges: dict[str, aio_pika.abc.AbstractExchange] = {"": channel.default_exchange}
    pending: list[Any] = []
    for out in messages:
        if out.exchange not in exchanges:
            exchanges[out.exchange] = await channel.get_exchange(out.exchange, ensure=False)
        pending.append(exchanges[out.exchange].publish(out.message, routing_key=out.routing_key))
        if len(pending) >= IN_FLIGHT:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)


async def ready_messages(channel: AbstractChannel, queues: list[str]) -> int:
    total = 0
    for name in queues:
        queue = await channel.declare_queue(name, passive=True)
        total += queue.declaration_result.message_count or 0
    return total


async def wait_drained(
    channel: AbstractChannel, parked_expected: int, started: float, timeout: float = 600
) -> float:
    """Seconds from `started` until every inbox and retry queue is empty twice in a row, 0.3 s
    apart, and the parking queues hold what they should."""
    work = [inbox_queue(s) for s in SERVICES] + [
        retry_queue(s, d) for s in SERVICES for d in RETRY_DELAYS_MS
    ]
    dead = [dead_queue(s) for s in SERVICES]
    empty_since: float | None = None
    while time.monotonic() - started < timeout:
        now = time.monotonic()
        busy = await ready_messages(channel, work)
        parked = await ready_messages(channel, dead)
        if busy == 0 and parked >= parked_expected:
            if empty_since is None:
                empty_since = now
            elif now - empty_since >= 0.3:
                return empty_since - started
        else:
            empty_since = None
        await asyncio.sleep(0.1)
    raise TimeoutError("the inboxes did not drain")


async def parked_messages(system: CitySystem) -> dict[str, list[ParkedMessage]]:
    return {service: await system.parked(service) for service in SERVICES}


def environment() -> dict[str, str]:
    return {
        "RETRY_DELAYS_MS": ",".join(str(d) for d in RETRY_DELAYS_MS),
        "WAIT_FOR_EARLIER_SECONDS": "1",
        "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.5",
        "GRIDLOOP_FAULT_RAISE": MARKER,
        "LOG_LEVEL": "WARNING",
    }


async def run_rounds(system: CitySystem, args: argparse.Namespace) -> list[Round]:
    traffic = Traffic(seed=7, marker=MARKER)
    connection = await aio_pika.connect(system.rabbitmq_url)
    rounds: list[Round] = []
    async with connection:
        publishing = await connection.channel(publisher_confirms=True)
        departments = Departments()
        await departments.start(await connection.channel())
        probing = await connection.channel()
        orders = 0
        parked = 0
        plan = [False] + [kind for _ in range(args.pairs) for kind in (True, False)]
        for number, poisoned in enumerate(plan, start=1):
            good = [traffic.report() for _ in range(args.good)]
            poison = traffic.poison(args.poison) if poisoned else []
            this = Round(number, poisoned, len(good), len(poison))
            orders += len(good)
            parked += len(poison)
            started = time.monotonic()
            await publish(publishing, interleave(good, poison))
            this.published_s = time.monotonic() - started
            await departments.wait_for(orders)
            this.orders_s = time.monotonic() - started
            this.drained_s = await wait_drained(probing, parked, started)
            rounds.append(this)
            kind = f"poisoned ({len(poison)})" if poisoned else "clean"
            print(
                f"round {number} {kind}: {this.orders_per_s:.0f} orders/s, "
                f"{this.loop_per_s:.0f} reports/s through the whole loop"
            )
            await asyncio.sleep(2)  # the services' outbox sweeps and watermarks settle
        repeated = [case for case, n in departments.seen.items() if n != 1]
        if repeated:
            print(f"FAIL: {len(repeated)} cases got more than one order")
    return rounds


def ratios(rounds: list[Round]) -> list[tuple[Round, float, float]]:
    """Each poisoned round against the mean of the clean rounds before and after it."""
    out = []
    for i, this in enumerate(rounds):
        if this.poisoned:
            before, after = rounds[i - 1], rounds[i + 1]
            orders = this.orders_per_s / ((before.orders_per_s + after.orders_per_s) / 2)
            loop = this.loop_per_s / ((before.loop_per_s + after.loop_per_s) / 2)
            out.append((this, orders, loop))
    return out


def check_parked(parked: dict[str, list[ParkedMessage]], expected: int) -> list[str]:
    problems = []
    everything = [m for messages in parked.values() for m in messages]
    if len(everything) != expected:
        problems.append(f"{len(everything)} parked, {expected} poison messages sent")
    good = [m for m in everything if not m.message_id.startswith(POISON_ID)]
    if good:
        problems.append(f"{len(good)} good messages parked: {good[0].reason}")
    unexplained = [m for m in everything if not m.reason.strip()]
    if unexplained:
        problems.append(f"{len(unexplained)} parked without a reason")
    return problems


def print_setup(system: CitySystem, args: argparse.Namespace) -> None:
    with system.management() as api:
        broker = api.get("/api/overview").json().get("rabbitmq_version", "?")
    database = os.environ.get("MONGODB_URL") or (
        f"the SecantusDB {metadata.version('SecantusDB')} stand-in"
    )
    print(
        f"setup: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; RabbitMQ {broker}; "
        f"MongoDB: {database}; "
        f"aio-pika {metadata.version('aio-pika')}; one replica of each service; "
        f"{args.good} good reports a round, {args.poison} poison in each poisoned round; "
        f"retry tiers {RETRY_DELAYS_MS} ms"
    )


def print_report(rounds: list[Round], parked: dict[str, list[ParkedMessage]]) -> None:
    print()
    print("| round | poison | published in | orders/s (dispatch path) | reports/s (whole loop) |")
    print("|---|---|---|---|---|")
    for r in rounds:
        print(
            f"| {r.number} | {r.poison} | {r.published_s:.1f} s | {r.orders_per_s:.0f} "
            f"| {r.loop_per_s:.0f} |"
        )
    print()
    for r, orders, loop in ratios(rounds):
        print(
            f"round {r.number}: orders/s {orders:.0%} of the clean rounds beside it, "
            f"whole loop {loop:.0%}"
        )
    print()
    print("| service | parked | by reason |")
    print("|---|---|---|")
    for service, messages in parked.items():
        reasons = "; ".join(f"{n} x {reason}" for reason, n in count_by_reason(messages).items())
        print(f"| {service} | {len(messages)} | {reasons} |")


async def main(args: argparse.Namespace) -> int:
    system = CitySystem(
        SystemOptions(work_dir=temporary_work_dir(), replicas=1, env=environment()), say=print
    )
    await asyncio.to_thread(system.start)
    try:
        print_setup(system, args)
        rounds = await run_rounds(system, args)
        parked = await parked_messages(system)
        print_report(rounds, parked)
        problems = check_parked(parked, sum(r.poison for r in rounds))
        for problem in problems:
            print(f"FAIL: {problem}")
        return 1 if problems else 0
    finally:
        await asyncio.to_thread(system.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=1500, help="good reports a round")
    parser.add_argument("--poison", type=int, default=1000, help="poison messages a poisoned round")
    parser.add_argument("--pairs", type=int, default=2, help="poisoned rounds, each between clean")
    sys.exit(asyncio.run(main(parser.parse_args())))
