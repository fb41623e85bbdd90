"""Benchmark intake: native and Open311 posts beside a bare FastAPI baseline, in one run.

    uv run python bench/intake/run.py [--requests 400] [--concurrency 16] [--rounds 7]

Starts what it needs: the MongoDB-wire stand-in (unless MONGODB_URL is set), a fresh RabbitMQ
vhost on the local broker (or RABBITMQ_URL), intake and the baseline as real uvicorn processes.
An asyncio httpx client on loopback sends a fixed number of requests with bounded concurrency.
The four scenarios alternate in short rounds and each intake figure is divided by the baseline
figure measured right before it: the machine is shared, and pairing cancels its drifting load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from gridloop_common.catalogue import CATEGORIES
from gridloop_common.mongo import create_client
from gridloop_common.registry import load_registry
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port

HERE = Path(__file__).resolve().parent
API_KEY = "bench-open311-key"
PROBLEMS = ("路面坑洼一片", "好几天没人处理了", "影响居民出行", "请尽快派人来看看", "晚上尤其危险")


@dataclass(frozen=True)
class Posted:
    path: str
    json: dict[str, Any] | None = None
    data: dict[str, str] | None = None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Result:
    name: str
    accepted: int
    failed: int
    seconds: float
    drained_seconds: float
    latencies_ms: list[float]
    # CPU time per accepted report: the server's process, and the database's.
    server_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0

    @property
    def http_rate(self) -> float:
        return self.accepted / self.seconds

    @property
    def sustained_rate(self) -> float:
        """Accepted per second until every event is also published (intake relays afterwards)."""
        return self.accepted / self.drained_seconds


def reports(count: int, seed: int) -> Iterator[tuple[float, float, str, str]]:
    """Points spread over every grid of the city, categories over the whole catalogue."""
    registry = load_registry()
    rng = random.Random(seed)
    for _ in range(count):
        grid = rng.choice(registry.grids)
        west, south, east, north = grid.polygon.bounds
        lon = rng.uniform(west + (east - west) * 0.05, east - (east - west) * 0.05)
        lat = rng.uniform(south + (north - south) * 0.05, north - (north - south) * 0.05)
        category = rng.choice(CATEGORIES)
        text = f"{category.name_zh}：{rng.choice(PROBLEMS)}"  # noqa: RUF001
        yield lat, lon, category.code, text


def native_posts(count: int, seed: int) -> list[Posted]:
    return [
        Posted(
            "/v1/reports",
            json={"category_code": code, "description": text, "location": {"lat": lat, "lon": lon}},
        )
        for lat, lon, code, text in reports(count, seed)
    ]


def open311_posts(count: int, seed: int) -> list[Posted]:
    return [
        Posted(
            "/open311/v2/requests.json",
            data={
                "api_key": API_KEY,
                "service_code": code,
                "lat": f"{lat:.7f}",
                "long": f"{lon:.7f}",
                "description": text,
                "attribute[severity]": random.Random(lat).choice(["low", "medium", "high"]),
            },
        )
        for lat, lon, code, text in reports(count, seed)
    ]


async def drive(
    base_url: str, posts: list[Posted], concurrency: int
) -> tuple[int, int, float, list[float]]:
    """Send every post with at most `concurrency` in flight: accepted, failed, seconds and
    latencies. A refused post (4xx) is a bug in the benchmark and stops it."""
    latencies: list[float] = []
    accepted = failed = 0
    cursor = iter(posts)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted, failed
        for post in cursor:
            started = time.perf_counter()
            try:
                response = await client.post(post.path, json=post.json, data=post.data)
            except httpx.TransportError:
                failed += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code in (201, 202):
                accepted += 1
            elif 400 <= response.status_code < 500:
                raise RuntimeError(f"{post.path} -> {response.status_code}: {response.text[:300]}")
            else:
                failed += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return accepted, failed, seconds, latencies


async def outbox_drained(mongodb_url: str, database: str) -> None:
    client = create_client(mongodb_url)
    pending = client[database]["reports"]

    async def empty() -> bool:
        # find_one, not count_documents: the stand-in answers a count by scanning everything.
        return await pending.find_one({"outbox_pending": True}, {"_id": 1}) is None

    try:
        await eventually(empty, timeout=600, interval=0.05, what="intake's outbox to drain")
    finally:
        await client.close()


async def scenario(
    name: str,
    base_url: str,
    posts: list[Posted],
    concurrency: int,
    drained: Callable[[], Any] | None,
    pids: tuple[int | None, int | None],
) -> Result:
    cpu_before = [cpu_seconds(pid) for pid in pids]
    accepted, failed, seconds, latencies = await drive(base_url, posts, concurrency)
    drained_seconds = seconds
    if drained is not None:
        started = time.perf_counter()
        await drained()
        drained_seconds += time.perf_counter() - started
    server, db = (
        (cpu_seconds(pid) - before) * 1000 / max(accepted, 1)
        for pid, before in zip(pids, cpu_before, strict=True)
    )
    return Result(name, accepted, failed, seconds, drained_seconds, latencies, server, db)


async def declare_sink(amqp_url: str) -> None:
    """A bounded queue for report events, so mandatory publishes are routed (as in production)."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            "gridloop.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            "bench.reports",
            durable=True,
            arguments={"x-max-length": 1000, "x-overflow": "drop-head"},
        )
        await queue.bind(exchange, "report.#")


@contextmanager
def baseline_process(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "baseline.py")],
            env={**os.environ, **env, "HTTP_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"baseline did not start; see {log_path}")
            try:
                if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="posts per scenario and round")
    parser.add_argument("--warmup", type=int, default=200, help="posts per server before timing")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridloop-bench-"))
    with ExitStack() as stack:
        infra = stack.enter_context(bench_infrastructure())
        amqp_url, mongodb_url, db_pid = infra.amqp_url, infra.mongodb_url, infra.db_pid
        database_label, vhost = infra.database, infra.vhost
        asyncio.run(declare_sink(amqp_url))

        shared = {"RABBITMQ_URL": amqp_url, "MONGODB_URL": mongodb_url}
        intake = ServiceProcess(
            name="intake",
            env={
                **shared,
                "MONGODB_DATABASE": "bench_intake",
                "GRIDLOOP_OPEN311_API_KEYS": API_KEY,
                # One load generator at one address: the limit would measure itself.
                "INTAKE_RATE_LIMIT_PER_ADDRESS": "",
            },
            log_path=work / "intake.log",
            port=free_port(),
        )
        intake.start()
        stack.callback(intake.stop)
        intake.wait_ready()
        baseline_url, baseline_pid = stack.enter_context(
            baseline_process({**shared, "MONGODB_DATABASE": "bench_baseline"}, work / "base.log")
        )

        def intake_drained() -> Any:
            return outbox_drained(mongodb_url, "bench_intake")

        # Each round draws fresh points: a repeat of an earlier point would be a duplicate.
        assert intake.process is not None
        intake_pid = intake.process.pid
        plan = [
            ("baseline JSON", baseline_url, baseline_pid, native_posts, None),
            ("intake native", intake.base_url, intake_pid, native_posts, intake_drained),
            ("baseline form", baseline_url, baseline_pid, open311_posts, None),
            ("intake Open311", intake.base_url, intake_pid, open311_posts, intake_drained),
        ]
        for index, (_, url, _, make, _) in enumerate(plan):
            asyncio.run(drive(url, make(args.warmup, 90_000 + index), args.concurrency))
        runs: dict[str, list[Result]] = {}
        for round_number in range(args.rounds):
            line = [f"  round {round_number + 1}:"]
            for index, (name, url, pid, make, drained) in enumerate(plan):
                posts = make(args.requests, 1000 * round_number + index)
                result = asyncio.run(
                    scenario(name, url, posts, args.concurrency, drained, (pid, db_pid))
                )
                runs.setdefault(name, []).append(result)
                line.append(f"{name} {result.sustained_rate:.0f}/s")
            print("  ".join(line), flush=True)

    print()
    print("setup")
    print(f"  cores                {os.cpu_count()} (load average now {os.getloadavg()[0]:.2f})")
    print(f"  python               {platform.python_version()}, uvicorn, one worker per server")
    print(f"  database             {database_label}")
    print(f"  broker               RabbitMQ, fresh vhost {vhost}, confirms + mandatory")
    print(
        f"  load                 httpx asyncio client on loopback, concurrency {args.concurrency}"
    )
    print(
        f"  requests             {args.rounds} rounds x {args.requests} posts per scenario "
        f"(after {args.warmup} warm-up posts each); medians over the rounds"
    )
    print()
    print(
        f"{'scenario':<16}{'accepted/s':>12}{'sustained/s':>13}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'failed':>8}{'server CPU':>12}{'DB CPU':>9}"
    )
    for name, results in runs.items():
        latencies = [ms for r in results for ms in r.latencies_ms]
        print(
            f"{name:<16}{median([r.http_rate for r in results]):>12.1f}"
            f"{median([r.sustained_rate for r in results]):>13.1f}"
            f"{percentile(latencies, 50):>9.1f}{percentile(latencies, 99):>9.1f}"
            f"{sum(r.failed for r in results):>8}"
            f"{median([r.server_cpu_ms for r in results]):>10.2f}ms"
            f"{median([r.db_cpu_ms for r in results]):>7.2f}ms"
        )
    print()
    for ours, theirs in (("intake native", "baseline JSON"), ("intake Open311", "baseline form")):
        paired = [
            a.sustained_rate / b.sustained_rate
            for a, b in zip(runs[ours], runs[theirs], strict=True)
        ]
        ratio = median(paired)
        verdict = "meets" if ratio >= 0.7 else "misses"
        spread = f"rounds {min(paired):.0%}..{max(paired):.0%}"
        print(f"{ours} / {theirs}: {ratio:.0%} ({spread}; {verdict} the 70 % target)")
    print("sustained/s counts until every accepted report's event is published (outbox drained)")
    print("server CPU and DB CPU: CPU time per accepted report (less noisy than rates here)")
    print(f"logs: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
