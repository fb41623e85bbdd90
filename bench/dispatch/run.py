"""Benchmark dispatch: report.received → work order on the department queue, beside a baseline.

    uv run python bench/dispatch/run.py [--reports 1000] [--rounds 3] [--paced 200] [--rate 40]

Starts what it needs: the MongoDB-wire stand-in (unless MONGODB_URL is set) and a fresh vhost
on the local RabbitMQ (or RABBITMQ_URL). dispatch runs as a real process; so does the baseline
(bench/dispatch/baseline.py: consume → insert → confirmed publish). Reports go round-robin to
20 categories owned by 20 different departments, over real registry grids; one measuring
process consumes the 20 department queues and times each report from just before its publish
to the delivery of its work order.

Two measurements per system, alternating between the two so a shared machine's drifting load
hits both alike: a burst of --reports (throughput: reports per second from first publish to
last delivery; latency under that load), then --paced reports at --rate per second (latency
when nothing queues). Figures are medians over --rounds bursts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS_BY_CODE
from gridloop_common.contracts import ReportReceived
from gridloop_common.messaging import department_queue, envelope
from gridloop_common.mongo import create_client
from gridloop_common.registry import load_registry
from gridloop_common.testing.infrastructure import (
    LOCAL_RABBITMQ,
    VhostAdmin,
    management_url_for,
    url_with_vhost,
)
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.secantus import free_port, start_stand_in

HERE = Path(__file__).resolve().parent
DEPARTMENT_COUNT = 20


@dataclass
class Run:
    system: str
    kind: str
    count: int
    seconds: float
    latencies_ms: list[float]
    # Until the last work order arrived and, for dispatch, its outbox was marked sent too.
    drained_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def sustained(self) -> float:
        return self.count / max(self.seconds, self.drained_seconds)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def twenty_categories() -> list[str]:
    """The first category of each of 20 different city departments."""
    chosen: dict[str, str] = {}
    for category in CATEGORIES:
        owner = DEPARTMENTS_BY_CODE[category.department]
        if owner.kind == "city_unit" and owner.code not in chosen:
            chosen[owner.code] = category.code
    if len(chosen) < DEPARTMENT_COUNT:
        raise SystemExit(f"the catalogue has only {len(chosen)} city departments with categories")
    return list(chosen.values())[:DEPARTMENT_COUNT]


class Timer:
    """Publishes reports and times each until its work order arrives on a department queue."""

    def __init__(self, channel: AbstractChannel, exchange: str) -> None:
        self._channel = channel
        self._exchange_name = exchange
        self._sent: dict[str, float] = {}
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._grids = [g.id for g in load_registry().grids[:: max(1, 2676 // 97)]]
        self._categories = twenty_categories()

    async def watch(self, queues: list[str]) -> None:
        for name in queues:
            queue = await self._channel.get_queue(name)
            await queue.consume(self._arrived, no_ack=True)

    async def _arrived(self, message: AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        reference = json.loads(message.body)["data"]["reference"]
        future = self._waiting.pop(reference, None)
        if future is not None and not future.done():
            future.set_result(now)

    def _report(self, n: int) -> aio_pika.Message:
        report = ReportReceived(
            report_id=f"B-{uuid.uuid4().hex[:16]}",
            channel="native",
            grid_id=self._grids[n % len(self._grids)],
            category_code=self._categories[n % len(self._categories)],
            description="基准测试 路面坑洼 影响出行",
            reported_at=datetime.now(UTC),
        )
        outgoing = envelope(report, source="bench", time=datetime.now(UTC))
        return aio_pika.Message(
            outgoing.body,
            message_id=outgoing.message_id,
            content_type=outgoing.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={"report_id": report.report_id},
        )

    async def _send(self, n: int) -> asyncio.Future[float]:
        message = self._report(n)
        reference = str((message.headers or {})["report_id"])
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[reference] = future
        self._sent[reference] = time.perf_counter()
        exchange = await self._channel.get_exchange(self._exchange_name, ensure=False)
        await exchange.publish(message, routing_key="report.received.native", mandatory=True)
        return future

    async def burst(self, count: int, in_flight: int = 256) -> tuple[float, list[float]]:
        gate = asyncio.Semaphore(in_flight)
        started = time.perf_counter()

        async def one(n: int) -> tuple[float, float]:
            async with gate:
                sent_at = time.perf_counter()
                future = await self._send(n)
            return sent_at, await asyncio.wait_for(future, 600)

        timings = await asyncio.gather(*(one(n) for n in range(count)))
        finished = max(arrived for _, arrived in timings)
        return finished - started, [(a - s) * 1000 for s, a in timings]

    async def paced(self, count: int, rate: float) -> tuple[float, list[float]]:
        started = time.perf_counter()
        tasks = []
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            sent_at = time.perf_counter()
            future = await self._send(n)
            tasks.append((sent_at, future))
        arrivals = [(s, await asyncio.wait_for(f, 600)) for s, f in tasks]
        return time.perf_counter() - started, [(a - s) * 1000 for s, a in arrivals]


async def declare(amqp_url: str, departments: list[str]) -> None:
    """Exchanges, the baseline's 20 quorum queues, and a bounded sink for dispatch's events."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        events = await channel.declare_exchange("gridloop.events", "topic", durable=True)
        bench_events = await channel.declare_exchange("bench.events", "topic", durable=True)
        # The baseline declares its inbox too; declared here first so no report finds no route.
        inbox = await channel.declare_queue(
            "bench.baseline.inbox", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await inbox.bind(bench_events, "report.received.#")
        orders = await channel.declare_exchange("bench.orders", "direct", durable=True)
        for code in departments:
            queue = await channel.declare_queue(
                f"bench.dept.{code}", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(orders, code)
        # case.* events must be routable (publishing is mandatory); nobody needs to read them.
        sink = await channel.declare_queue(
            "bench.case-events", durable=True, arguments={"x-max-length": 1000}
        )
        await sink.bind(events, "case.#")


@contextmanager
def baseline_process(amqp_url: str, mongodb_url: str, database: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "baseline.py"), amqp_url, mongodb_url, database, "64"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


async def outbox_drained(mongodb_url: str) -> None:
    """dispatch marks published events sent after publishing: wait until that work is done."""
    client = create_client(mongodb_url)
    cases = client["bench_dispatch"]["cases"]

    async def empty() -> bool:
        return not await cases.count_documents({"outbox_pending": True}, limit=1)

    try:
        await eventually(empty, timeout=600, interval=0.05, what="dispatch's outbox to drain")
    finally:
        await client.close()


async def measure(args: argparse.Namespace, amqp_url: str, mongodb_url: str) -> list[Run]:
    departments = [
        next(c.department for c in CATEGORIES if c.code == code) for code in twenty_categories()
    ]
    connection = await aio_pika.connect_robust(amqp_url)
    runs: list[Run] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        timers = {
            "dispatch": Timer(channel, "gridloop.events"),
            "baseline": Timer(channel, "bench.events"),
        }
        await timers["dispatch"].watch([department_queue(code) for code in departments])
        await timers["baseline"].watch([f"bench.dept.{code}" for code in departments])
        for name, timer in timers.items():
            await timer.burst(args.warmup)  # connections, caches, indexes
            sys.stderr.write(f"warmed up {name}\n")
        await outbox_drained(mongodb_url)
        for round_ in range(args.rounds):
            for name in ("baseline", "dispatch") if round_ % 2 == 0 else ("dispatch", "baseline"):
                started = time.perf_counter()
                seconds, latencies = await timers[name].burst(args.reports)
                if name == "dispatch":
                    await outbox_drained(mongodb_url)
                drained = time.perf_counter() - started
                runs.append(Run(name, "burst", args.reports, seconds, latencies, drained))
                sys.stderr.write(f"round {round_ + 1} {name}: {args.reports / seconds:.0f}/s\n")
        for name in ("baseline", "dispatch"):
            seconds, latencies = await timers[name].paced(args.paced, args.rate)
            runs.append(Run(name, "paced", args.paced, seconds, latencies))
    return runs


def report(runs: list[Run], args: argparse.Namespace, how: str) -> None:
    def median(system: str, kind: str, value: str) -> float:
        chosen = [r for r in runs if r.system == system and r.kind == kind]
        figures = {
            "rate": [r.rate for r in chosen],
            "sustained": [r.sustained for r in chosen],
            "p50": [r.percentile(50) for r in chosen],
            "p99": [r.percentile(99) for r in chosen],
        }[value]
        return statistics.median(figures)

    lines = [
        "dispatch benchmark: report.received published → work order on dept.<code>.orders",
        f"setup: {DEPARTMENT_COUNT} departments (one category each, round-robin), real registry "
        f"grids; {how}",
        f"       Python {platform.python_version()}, aio-pika {version('aio-pika')}, pymongo "
        f"{version('pymongo')}, {os.cpu_count()} CPUs; dispatch: 1 process, PREFETCH 64",
        f"       burst: {args.reports} reports x {args.rounds} rounds (medians); paced: "
        f"{args.paced} reports at {args.rate:g}/s",
        "",
        f"{'':<10}{'routed/s':>10}{'sustained/s':>13}{'burst p50 ms':>14}{'burst p99 ms':>14}"
        f"{'paced p50 ms':>14}{'paced p99 ms':>14}",
    ]
    for system in ("dispatch", "baseline"):
        lines.append(
            f"{system:<10}{median(system, 'burst', 'rate'):>10.0f}"
            f"{median(system, 'burst', 'sustained'):>13.0f}"
            f"{median(system, 'burst', 'p50'):>14.1f}{median(system, 'burst', 'p99'):>14.1f}"
            f"{median(system, 'paced', 'p50'):>14.1f}{median(system, 'paced', 'p99'):>14.1f}"
        )
    ratio = median("dispatch", "burst", "rate") / median("baseline", "burst", "rate")
    sustained = median("dispatch", "burst", "sustained") / median("baseline", "burst", "rate")
    paced = median("dispatch", "paced", "p50") / median("baseline", "paced", "p50")
    lines += [
        "",
        "routed/s: first publish to last work order delivered; sustained/s: until dispatch's",
        "outbox is also marked sent (the baseline has no outbox: both figures are the same).",
        f"dispatch / baseline: routed {ratio:.2f}x, sustained {sustained:.2f}x; "
        f"paced p50 latency {paced:.2f}x",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=1000, help="reports per burst")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per system")
    parser.add_argument("--paced", type=int, default=200, help="reports in the paced run")
    parser.add_argument("--rate", type=float, default=40.0, help="paced reports per second")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dispatch-")))
        mongodb_url = os.environ.get("MONGODB_URL")
        how = "MongoDB from MONGODB_URL"
        if mongodb_url is None:
            stand_in = start_stand_in(data_dir=work / "mongo", port=free_port())
            stack.callback(stand_in.stop)
            mongodb_url = stand_in.url
            how = "the MongoDB-wire stand-in (SecantusDB, Python)"
        broker = os.environ.get("RABBITMQ_URL", LOCAL_RABBITMQ)
        vhost = f"bench-dispatch-{uuid.uuid4().hex[:8]}"
        admin = VhostAdmin(management_url_for(broker))
        admin.create(vhost)
        stack.callback(admin.delete, vhost)
        amqp_url = url_with_vhost(broker, vhost)
        how += f", RabbitMQ at {broker.rsplit('@', 1)[-1]} (vhost {vhost})"

        departments = list({c.department for c in CATEGORIES if c.code in twenty_categories()})
        asyncio.run(declare(amqp_url, departments))
        dispatch = ServiceProcess(
            name="dispatch",
            env={
                "RABBITMQ_URL": amqp_url,
                "MONGODB_URL": mongodb_url,
                "MONGODB_DATABASE": "bench_dispatch",
                "LOG_LEVEL": "WARNING",
            },
            log_path=work / "dispatch.log",
            port=free_port(),
        )
        dispatch.start()
        stack.callback(dispatch.stop)
        dispatch.wait_ready()
        stack.enter_context(
            baseline_process(amqp_url, mongodb_url, "bench_baseline", work / "baseline.log")
        )
        runs = asyncio.run(measure(args, amqp_url, mongodb_url))
        report(runs, args, how)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
