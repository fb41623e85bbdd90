"""The console under a city's load: board page latency, event → browser latency, CPU per event.

    uv run python bench/console/run.py [--open-orders 5000] [--reports-per-second 50]
                                       [--seconds 60]

Starts one console process on a fresh vhost (the stand-in, or MONGODB_URL), fills its read
model with `--open-orders` dispatched, unaccepted orders, then feeds it the events a city at
`--reports-per-second` produces — per report a `report.received` and a `case.dispatched`, an
acceptance of an open order, and every tenth report an SLA breach — while
  - a browser's live stream (`/live`) is open: each breach's case is watched for, and the time
    from publishing the breach to its `case-<id>` signal is the event → browser latency;
  - the board page (`/board`, every open order counted) is fetched once a second.
The whole system cannot produce 50 reports a second on this kind of machine (bench/e2e), so
the events are published directly, at the rate such a city would send them. Prints the
set-up, then p50 / p99 / max of both latencies and the console's CPU per event.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import httpx

from gridloop_common.contracts import (
    CaseAccepted,
    CaseDispatched,
    Message,
    ReportReceived,
    SlaBreached,
)
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Collection, create_client
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port
from gridloop_console.repository import CASES

KEY = "bench-console-key"
GRID = "grd-xijin-001-01"
HOUR = timedelta(hours=1)
IN_FLIGHT = 256  # confirms in flight while publishing


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms ({len(ordered)} samples)"
    )


def facts(n: int) -> dict[str, str]:
    return {
        "case_id": f"C-bench-{n}",
        "report_id": f"R-bench-{n}",
        "order_id": f"O-bench-{n}",
        "department": ("city-mgmt", "water", "housing", "traffic")[n % 4],
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": "twp-xijin",
    }


def report(n: int, now: datetime) -> ReportReceived:
    return ReportReceived(
        report_id=f"R-bench-{n}",
        channel="native",
        grid_id=GRID,
        township_id="twp-xijin",
        category_code="road-damage",
        description="路面塌陷",
        reported_at=now,
    )


def dispatched(n: int, now: datetime) -> CaseDispatched:
    return CaseDispatched(
        **facts(n), dispatched_at=now, accept_by=now + 8 * HOUR, complete_by=now + 72 * HOUR
    )


def breach(n: int, now: datetime) -> SlaBreached:
    return SlaBreached(
        order_id=f"O-bench-{n}",
        case_id=f"C-bench-{n}",
        department=facts(n)["department"],
        clock="accept",
        deadline=now,
        fired_at=now,
        late_seconds=1.0,
    )


class Feed:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.sent = 0
        self._pending: set[asyncio.Task[None]] = set()

    async def send(self, message: Message) -> None:
        outgoing = envelope(message, source="bench/console", time=datetime.now(UTC))
        while len(self._pending) >= IN_FLIGHT:
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self.publisher.publish(outgoing))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        self.sent += 1

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending)


def signalled(breaches: dict[str, float], signals: dict[str, list[float]]) -> list[float]:
    """For each breach whose case was signalled after it was sent, how long that took."""
    return [
        next(t for t in signals[case] if t >= sent) - sent
        for case, sent in breaches.items()
        if any(t >= sent for t in signals.get(case, ()))
    ]


async def projected(cases: Collection, wanted: int, timeout: float) -> None:
    """Wait until the console's read model holds `wanted` open cases (read from its database:
    this is a benchmark's look behind the page, not something a service would do)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await cases.count_documents({"open": True}) >= wanted:
            return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"the console did not project {wanted} open orders in {timeout:.0f} s")


async def run(
    args: argparse.Namespace, amqp_url: str, console: ServiceProcess, cases: Collection
) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await declare_exchanges(channel)
    feed = Feed(Publisher(channel, app_id="bench"))
    headers = {"X-Api-Key": KEY}
    async with httpx.AsyncClient(base_url=console.base_url, headers=headers, timeout=30) as http:
        now = datetime.now(UTC)
        started = time.monotonic()
        for n in range(args.open_orders):
            await feed.send(report(n, now))
            await feed.send(dispatched(n, now))
        await feed.drain()
        await projected(cases, args.open_orders, timeout=1_200)
        fill = time.monotonic() - started
        print(f"  fill     : {args.open_orders} open orders projected in {fill:.1f} s")

        # Every signal of every case, in order: a breach's latency runs to its case's first
        # signal after it was sent (the case was signalled before, when it was dispatched).
        signals: dict[str, list[float]] = defaultdict(list)

        async def listen() -> None:
            async with http.stream("GET", "/live", timeout=None) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("event: case-"):
                        signals[line.removeprefix("event: case-")].append(time.monotonic())

        listener = asyncio.create_task(listen())
        board_seconds: list[float] = []

        async def watch_board() -> None:
            while True:
                asked = time.monotonic()
                answer = await http.get("/board")
                answer.raise_for_status()
                board_seconds.append(time.monotonic() - asked)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - asked)))

        watcher = asyncio.create_task(watch_board())
        await asyncio.sleep(1.0)
        breaches: dict[str, float] = {}
        cpu_before = cpu_seconds(console.process.pid if console.process else None)
        sent_before = feed.sent
        load_started = time.monotonic()
        next_report = args.open_orders
        interval = 1.0 / args.reports_per_second
        for k in range(int(args.seconds * args.reports_per_second)):
            due = load_started + k * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            moment = datetime.now(UTC)
            await feed.send(report(next_report, moment))
            await feed.send(dispatched(next_report, moment))
            accepted = k % args.open_orders
            await feed.send(CaseAccepted(**facts(accepted), accepted_at=moment))
            if k % 10 == 0:
                target = (accepted + args.open_orders // 2) % args.open_orders
                breaches[f"C-bench-{target}"] = time.monotonic()
                await feed.send(breach(target, moment))
            next_report += 1
        await feed.drain()
        load_seconds = time.monotonic() - load_started
        deadline = time.monotonic() + 60
        # The stream's reader records; this only looks (a poll, not a wait on the reader).
        while time.monotonic() < deadline and len(signalled(breaches, signals)) < len(breaches):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        cpu = cpu_seconds(console.process.pid if console.process else None) - cpu_before
        events = feed.sent - sent_before
        watcher.cancel()
        listener.cancel()
        await asyncio.gather(watcher, listener, return_exceptions=True)
    await connection.close()
    heard = signalled(breaches, signals)
    print(
        f"  load     : {events} events in {load_seconds:.1f} s "
        f"({events / load_seconds:.0f} events/s = {args.reports_per_second:g} reports/s)"
    )
    print(f"  board    : {percentiles(board_seconds)}")
    print(
        f"  breach → browser (SSE): {percentiles(heard)}; "
        f"{len(breaches) - len(heard)} of {len(breaches)} not signalled"
    )
    print(f"  console CPU: {cpu:.1f} s, {cpu / events * 1000:.2f} ms per event")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--open-orders", type=int, default=5_000)
    options.add_argument("--reports-per-second", type=float, default=50.0)
    options.add_argument("--seconds", type=float, default=60.0)
    args = options.parse_args()
    with ExitStack() as stack:
        infra = stack.enter_context(bench_infrastructure("bench-console"))
        print(
            f"console benchmark: {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, {infra.database}"
        )
        print(
            f"  setup    : one console process, {args.open_orders} open orders, "
            f"{args.reports_per_second:g} reports/s for {args.seconds:g} s, one live stream, "
            "the board fetched once a second"
        )
        logs = Path(tempfile.mkdtemp(prefix="bench-console-"))
        database = f"bench_console_{uuid.uuid4().hex[:8]}"
        console = ServiceProcess(
            "console",
            {
                "RABBITMQ_URL": infra.amqp_url,
                "MONGODB_URL": infra.mongodb_url,
                "MONGODB_DATABASE": database,
                "OPERATOR_API_KEY": KEY,
                "LOG_LEVEL": "WARNING",
                "PREFETCH": "256",
            },
            log_path=logs / "console.log",
            port=free_port(),
        )
        console.start()
        stack.callback(console.stop)
        console.wait_ready()
        asyncio.run(measure(args, infra.mongodb_url, database, infra.amqp_url, console))


async def measure(
    args: argparse.Namespace,
    mongodb_url: str,
    database: str,
    amqp_url: str,
    console: ServiceProcess,
) -> None:
    client = create_client(mongodb_url)
    try:
        await run(args, amqp_url, console, client[database][CASES])
    finally:
        await client.close()


if __name__ == "__main__":
    main()
