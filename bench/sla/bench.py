"""sla-monitor benchmark: breach lag over many open timers, service memory, catch-up after restart.

    uv run python bench/sla/bench.py                        # 100,000 open timers, all falling due
    uv run python bench/sla/bench.py --timers 1000000 --due 10000 --spread 60

Infrastructure as the tests take it (RABBITMQ_URL / MONGODB_URL, else the local RabbitMQ and a
fresh MongoDB-wire stand-in), on a fresh vhost and database. The service runs as its own process
(`python -m gridloop_sla_monitor`), so its RSS is its own.

1. The service starts on an empty database and takes its partition leases.
2. `--timers - --due` open timers with deadlines days away are stored (the load the scan must not
   read), then `--due` timers whose deadlines are spread evenly over `--spread` seconds, starting
   once they are all stored. Documents are built with the service's own code (`NewClock`), as its
   dispatch handler writes them; warnings passed before the run are marked announced.
3. A consumer bound to `sla.breached.#` records when each breach arrives: lag = arrival - deadline
   (the published event; `fired_at` - deadline is the claim alone).
   Per-breach figures go to `<log dir>/breach-lags.csv`; then `GET /v1/board` is timed.
4. Catch-up: the service is stopped (SIGTERM), `--catch-up` timers already overdue are stored, the
   service is started again; the time until the last of their breaches arrives, and that each
   arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from gridloop_common.contracts import EVENTS_EXCHANGE, CaseDispatched
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Collection, Document, create_client
from gridloop_common.testing.fixtures import isolation
from gridloop_common.testing.infrastructure import provide_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import rss_kib
from gridloop_common.testing.secantus import free_port
from gridloop_sla_monitor.calendars import Calendars
from gridloop_sla_monitor.clocks import ACCEPT, ClockPolicy, partition_of, timer_id
from gridloop_sla_monitor.repository import LEASES, TIMERS, NewClock

WINDOW = timedelta(hours=8)
BENCH_OPERATOR_KEY = "bench-operator-key"
INSERT_BATCH = 2_000


@dataclass
class Breaches:
    """Arrival time of each breach, by order id (repeats counted apart)."""

    arrived: dict[str, tuple[float, datetime, datetime]] = field(default_factory=dict)
    repeats: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)
    expected: set[str] = field(default_factory=set)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        received = time.time()
        async with message.process():
            data = json.loads(message.body)["data"]
            order = data["order_id"]
            if order in self.arrived:
                self.repeats += 1
                return
            deadline = datetime.fromisoformat(data["deadline"])
            fired = datetime.fromisoformat(data["fired_at"])
            self.arrived[order] = (received, deadline, fired)
            if self.expected and self.expected <= self.arrived.keys():
                self.event.set()

    def expect(self, orders: set[str]) -> None:
        self.expected = orders
        self.event.clear()
        if orders <= self.arrived.keys():
            self.event.set()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 0.5) * 1000:8.1f} ms   "
        f"p99 {percentile(values, 0.99) * 1000:8.1f} ms   "
        f"max {max(values) * 1000:8.1f} ms   (n={len(values)})"
    )


def timer_documents(
    prefix: str, deadlines: Sequence[datetime], policy: ClockPolicy, partitions: int
) -> list[Document]:
    """Accept clocks as the dispatch handler stores them, warnings before now marked announced."""
    now = datetime.now(UTC)
    documents = []
    for n, due in enumerate(deadlines):
        order = f"{prefix}-{n:07d}"
        dispatched_at = due - WINDOW
        event = CaseDispatched(
            case_id=f"case-{order}",
            order_id=order,
            department="city-mgmt",
            category_code="road-damage",
            grid_id="grd-xijin-001-01",
            township_id="xijin",
            dispatched_at=dispatched_at,
            accept_by=due,
            complete_by=dispatched_at + timedelta(hours=72),
            role="sole",
        )
        started = policy.start(
            ACCEPT,
            department=event.department,
            category_code=event.category_code,
            started_at=dispatched_at,
            stamped=due,
        )
        timer = timer_id(order, ACCEPT)
        clock = NewClock(
            timer=timer,
            clock=ACCEPT,
            partition=partition_of(timer, partitions),
            calendar=started.calendar,
            started_at=dispatched_at,
            due_at=started.due_at,
            marks=started.marks,
        )
        document = clock.document(
            event, event_id=f"bench-{order}", correlation_id=None, complete_timer=None
        )
        passed = [m for m in started.marks[:-1] if m.at <= now]
        for entry in document["marks"][: len(passed)]:
            entry["fired_at"] = entry["at"]
        document["passed"] = len(passed)
        document["next_at"] = started.marks[len(passed)].at
        documents.append(document)
    return documents


async def insert(timers: Collection, documents: Sequence[Document]) -> float:
    """Store in batches; returns documents per second."""
    started = time.monotonic()
    for first in range(0, len(documents), INSERT_BATCH):
        await timers.insert_many(documents[first : first + INSERT_BATCH], ordered=False)
    return len(documents) / max(time.monotonic() - started, 1e-9)


async def wait_for_leases(leases: Collection, partitions: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        held = await leases.count_documents(
            {"_id": {"$regex": "^partition:"}, "owner": {"$ne": None}, "expires_at": {"$gt": now}}
        )
        if held == partitions:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the service did not take its partition leases")


def start_service(env: dict[str, str], log: Path) -> ServiceProcess:
    process = ServiceProcess(name="sla-monitor", env=env, log_path=log, port=free_port())
    process.start()
    process.wait_ready(timeout=120)
    return process


async def run(args: argparse.Namespace, rabbitmq_url: str, mongodb_url: str, how: str) -> None:
    database = f"bench_sla_{int(time.time())}"
    env = {
        "RABBITMQ_URL": rabbitmq_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": database,
        "SLA_PARTITIONS": str(args.partitions),
        "SLA_TICK_SECONDS": str(args.tick),
        "SLA_SCAN_BATCH": str(args.batch),
        "SLA_FIRE_CONCURRENCY": str(args.concurrency),
        "SLA_WARNING_THRESHOLDS": "0.75",
        # The scan's own precision is measured: the grace a deployment adds (5 s by default,
        # for news still on its way) would only shift every figure by itself.
        "SLA_EVIDENCE_GRACE_SECONDS": "0",
        "LOG_LEVEL": args.log_level,
        "OPERATOR_API_KEY": BENCH_OPERATOR_KEY,
    }
    policy = ClockPolicy(thresholds=(0.75,), calendars=Calendars(), accept_window=WINDOW)
    logs = Path(args.log_dir)

    connection = await aio_pika.connect_robust(rabbitmq_url)
    channel = await connection.channel()
    await declare_exchanges(channel)
    breaches = Breaches()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(EVENTS_EXCHANGE, "sla.breached.#")
    await probe.consume(breaches.on_message)
    # Publishing is mandatory: warnings need a queue too (nobody reads it).
    others = await channel.declare_queue(exclusive=True)
    await others.bind(EVENTS_EXCHANGE, "sla.warning.#")

    client = create_client(mongodb_url)
    timers = client[database][TIMERS]
    leases = client[database][LEASES]

    print("== sla-monitor benchmark ==")
    print(f"infrastructure  {how}")
    print(
        f"versions        SecantusDB {_version('SecantusDB')}, RabbitMQ {_rabbit_version(args)}, "
        f"Python {platform.python_version()}, pymongo {_version('pymongo')}, "
        f"aio-pika {_version('aio-pika')}"
    )
    print(
        f"machine         {os.cpu_count()} CPUs ({_cpu_model()}), {platform.platform()}; "
        f"load average at start {_load()} (other work shares the machine)"
    )
    print(
        f"service         1 replica, SLA_PARTITIONS={args.partitions} "
        f"SLA_TICK_SECONDS={args.tick} SLA_SCAN_BATCH={args.batch} "
        f"SLA_FIRE_CONCURRENCY={args.concurrency} LOG_LEVEL={args.log_level}"
    )
    print(
        f"load            {args.timers:,} open timers; {args.due:,} of them fall due, "
        f"spread evenly over {args.spread:g} s; catch-up {args.catch_up:,} overdue timers"
    )

    service = start_service(env, logs / "sla-monitor-1.log")
    assert service.process is not None
    pid = service.process.pid
    await wait_for_leases(leases, args.partitions)
    idle_rss, _ = rss_kib(pid)

    # Open timers that stay open: days away (but inside the stand-in's index like the others).
    background = args.timers - args.due
    far = datetime.now(UTC) + timedelta(days=2)
    rate = 0.0
    started = time.monotonic()
    for first in range(0, background, 50_000):
        count = min(50_000, background - first)
        deadlines = [far + timedelta(seconds=(first + n) % 86_400) for n in range(count)]
        documents = timer_documents(f"o-open-{first:07d}", deadlines, policy, args.partitions)
        rate = await insert(timers, documents)
        print(f"  stored {first + count:,} open timers ({rate:,.0f}/s)", flush=True)
    if background == 0:
        calibration = timer_documents("o-calibrate", [far] * INSERT_BATCH, policy, args.partitions)
        rate = await insert(timers, calibration)
    background_seconds = time.monotonic() - started

    # The due timers: deadlines begin once all are stored (estimated from the insert rate).
    lead = args.due / rate * 1.5 + 5
    base = datetime.now(UTC) + timedelta(seconds=lead)
    step = args.spread / max(1, args.due - 1)
    deadlines = [base + timedelta(seconds=n * step) for n in range(args.due)]
    due_documents = timer_documents("o-due", deadlines, policy, args.partitions)
    breaches.expect({d["order_id"] for d in due_documents})
    await insert(timers, due_documents)
    stored_at = datetime.now(UTC)
    late_inserts = sum(1 for d in deadlines if d <= stored_at)
    # Not counted in the database: a count decodes every open timer and would stall the
    # stand-in while the deadlines pass.
    print(
        f"  stored {args.due:,} due timers; first deadline in "
        f"{(base - stored_at).total_seconds():.1f} s; {background + args.due:,} open timers",
        flush=True,
    )

    peak_during = 0
    timeout = lead + args.spread + 600
    waited = time.monotonic()
    while not breaches.event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(breaches.event.wait(), timeout=1.0)
        rss, _ = rss_kib(pid)
        peak_during = max(peak_during, rss)
        if time.monotonic() - waited > timeout:
            break
    end_rss, hwm = rss_kib(pid)
    due_ids = {d["order_id"] for d in due_documents}
    got = [breaches.arrived[o] for o in due_ids if o in breaches.arrived]
    with (logs / "breach-lags.csv").open("w", encoding="utf-8") as out:
        out.write("deadline,fired_at,received\n")
        for received, deadline, fired in sorted(got, key=lambda row: row[1]):
            out.write(f"{deadline.isoformat()},{fired.isoformat()},{received:.6f}\n")
    lags = [received - deadline.timestamp() for received, deadline, _ in got]
    claims = [(fired - deadline).total_seconds() for _, deadline, fired in got]
    print()
    print(f"-- breach lag, {args.timers:,} open timers ({args.due:,} due over {args.spread:g} s)")
    print(f"deadline → breach consumed   {summary(lags)}")
    print(f"deadline → claimed (fired_at) {summary(claims)}")
    print(
        f"received {len(got):,}/{args.due:,} breaches, {breaches.repeats} repeated, "
        f"{late_inserts} stored after their deadline"
    )
    print(
        f"service RSS: idle {idle_rss / 1024:.0f} MiB, end {end_rss / 1024:.0f} MiB, "
        f"peak {max(hwm, peak_during) / 1024:.0f} MiB"
    )
    if args.board:
        board_started = time.monotonic()
        async with httpx.AsyncClient(
            timeout=1800, headers={"X-Api-Key": BENCH_OPERATOR_KEY}
        ) as http:
            board = await http.get(f"{service.base_url}/v1/board", params={"limit": 5})
        open_clocks = board.json()["totals"]["open"] if board.status_code == 200 else "?"
        print(
            f"GET /v1/board over {open_clocks:,} open orders: "
            f"{time.monotonic() - board_started:.1f} s (HTTP {board.status_code})"
        )
    print(f"(storing {background:,} open timers took {background_seconds:.0f} s; load {_load()})")

    if args.catch_up:
        service.stop()
        overdue_at = datetime.now(UTC)
        deadlines = [
            overdue_at - timedelta(seconds=60) + timedelta(seconds=59 * n / args.catch_up)
            for n in range(args.catch_up)
        ]
        documents = timer_documents("o-overdue", deadlines, policy, args.partitions)
        breaches.expect({d["order_id"] for d in documents})
        await insert(timers, documents)
        repeats_before = breaches.repeats
        restart = time.monotonic()
        restart_wall = time.time()
        service = start_service(env, logs / "sla-monitor-2.log")
        ready = time.monotonic() - restart
        assert service.process is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(breaches.event.wait(), timeout=1800)
        ids = {d["order_id"] for d in documents}
        arrivals = [breaches.arrived[o][0] for o in ids if o in breaches.arrived]
        last_arrival = max(arrivals) if arrivals else float("nan")
        first_arrival = min(arrivals) if arrivals else float("nan")
        print()
        print(f"-- catch-up after a restart, {args.catch_up:,} overdue timers")
        to_first, to_last = first_arrival - restart_wall, last_arrival - restart_wall
        rate_caught_up = len(arrivals) / max(last_arrival - first_arrival, 1e-9)
        print(
            f"process start → ready {ready:.1f} s; → first breach {to_first:.1f} s; "
            f"→ last breach {to_last:.1f} s"
        )
        print(
            f"received {len(arrivals):,}/{args.catch_up:,}, "
            f"{breaches.repeats - repeats_before} repeated "
            f"({rate_caught_up:,.0f} breaches/s while catching up); load {_load()}"
        )
    service.stop()
    await client.drop_database(database)
    await client.close()
    await connection.close()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _rabbit_version(args: argparse.Namespace) -> str:
    try:
        overview = httpx.get(f"{args.management_url}/api/overview", timeout=5)
        version: Any = overview.json().get("rabbitmq_version", "?")
        return str(version)
    except (httpx.HTTPError, ValueError):
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--timers", type=int, default=100_000, help="open timers in total")
    parser.add_argument("--due", type=int, default=None, help="of those, falling due (all)")
    parser.add_argument("--spread", type=float, default=300.0, help="seconds the deadlines span")
    parser.add_argument("--catch-up", type=int, default=10_000, help="overdue timers at restart")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--board", action=argparse.BooleanOptionalAction, default=True, help="time GET /v1/board"
    )
    parser.add_argument("--log-dir", default=".data/bench-sla")
    args = parser.parse_args(argv)
    args.due = args.timers if args.due is None else min(args.due, args.timers)
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    with provide_infrastructure() as infra, isolation(infra) as isolated:
        args.management_url = infra.management_url
        asyncio.run(run(args, isolated.rabbitmq_url, isolated.mongodb_url, infra.how))
    return 0


if __name__ == "__main__":
    sys.exit(main())
