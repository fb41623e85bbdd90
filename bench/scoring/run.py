"""Benchmark scoring: fact ingestion beside a bare consumer, and query latency over many facts.

    uv run python bench/scoring/run.py [--events 20000] [--days 30] [--rounds 1] [--prefetch 64]
                                       [--facts 1000000] [--repeats 10] [--only ingest|query]
                                       [--rebuild command|inprocess]

Starts what it needs: the MongoDB-wire stand-in (unless MONGODB_URL is set) and a fresh RabbitMQ
vhost on the local broker (or RABBITMQ_URL); scoring runs as its own process (`ServiceProcess`,
JSON logs at INFO as in production).

1. Ingestion. `--events` CloudEvents of whole case stories (stories.py) are published to
   `gridloop.events` while scoring is stopped (its topology declared by an earlier start), then
   scoring starts and consumes them: time from its first handled message until every one is
   handled (`gridloop_messages_total` on /metrics), and until `/v1/status` says current (every
   marked figure recomputed). The baseline (baseline.py) consumes the same kind of backlog from
   its own quorum queue with the same prefetch, one `insert_one` of the raw event per message.
   Runs alternate baseline, scoring, baseline (... per round) to cancel a shared machine's drift.
2. Queries. `--facts` fact documents (the service's own `fact_document(fact_from_event(...))`) of
   twelve months of case stories over every grid are inserted directly in batches, the figures
   are computed by `gridloop-scoring rebuild` (a process of its own: wall time and peak RSS; if
   it fails, or with `--rebuild inprocess`, by `rebuild()` in this process), then
   scoring is started on that database and rankings, grades and entity pages are requested one
   at a time, `--repeats` times each: p50 / p99 / max per query type.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import aio_pika
import httpx

from gridloop_common.clock import SystemClock
from gridloop_common.contracts import EVENTS_EXCHANGE
from gridloop_common.messaging import envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import create_client, ensure_indexes
from gridloop_common.periods import SHANGHAI
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds, rss_kib
from gridloop_common.testing.secantus import free_port
from gridloop_scoring import repository
from gridloop_scoring.bootstrap import registry_areas
from gridloop_scoring.facts import fact_from_event
from gridloop_scoring.rebuild import rebuild as scoring_rebuild

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stories import Stories, Timed, event_id  # type: ignore[import-not-found]  # beside this script

HERE = Path(__file__).resolve().parent
BASELINE_EXCHANGE = "bench.baseline"
BASELINE_QUEUE = "bench.baseline"
HANDLED = re.compile(r'^gridloop_messages_total\{[^}]*outcome="(\w+)"[^}]*\}\s+([0-9.e+]+)$', re.M)
# The query benchmark's twelve months, ending the week of the run (Asia/Shanghai).
QUERY_START = datetime(2025, 11, 26, tzinfo=SHANGHAI)
QUERY_SPAN = timedelta(days=360)
MONTH, QUARTER, YEAR = "2026-10", "2026-Q3", "2026"
INSERT_BATCH = 5_000
POLL_SECONDS = 0.5
ENTITY_LEVELS = ("grid", "department", "handler", "township")


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a running process, in MiB."""
    current, peak = rss_kib(pid)
    return current / 1024, peak / 1024


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Setup:
    amqp_url: str
    mongodb_url: str
    db_pid: int | None
    work: Path
    prefetch: int
    log_level: str


# -- ingestion ---------------------------------------------------------------------------------


@dataclass
class Ingestion:
    name: str
    events: int
    consume_seconds: float
    cpu_ms: float  # the consumer's CPU per message, first message → last handled
    db_cpu_ms: float
    spawn_to_handled: float = 0.0
    current_seconds: float | None = None  # first handled → /v1/status current
    cpu_to_current_ms: float | None = None
    db_cpu_to_current_ms: float | None = None
    peak_pending: int = 0
    not_handled: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.consume_seconds


async def publish(amqp_url: str, exchange_name: str, events: Sequence[Timed]) -> float:
    """Publish with confirms, persistent, the events' own routing keys; returns seconds."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(exchange_name)
        started = time.perf_counter()
        for first in range(0, len(events), 500):
            outgoing = [
                envelope(t.event, source="bench/scoring", time=t.at, event_id=event_id())
                for t in events[first : first + 500]
            ]
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            o.body,
                            content_type=o.content_type,
                            message_id=o.message_id,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=o.routing_key,
                    )
                    for o in outgoing
                )
            )
        return time.perf_counter() - started


async def declare_baseline_queue(amqp_url: str) -> None:
    """A quorum queue like scoring's inbox, behind its own topic exchange (no cross-talk)."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_exchanges(channel)
        exchange = await channel.declare_exchange(
            BASELINE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            BASELINE_QUEUE, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "#")
        # scoring announces a closed month (the backlog reaches into October): notify's queue
        # stands in, bounded, so the mandatory publish is routed as in production.
        closed = await channel.declare_queue(
            "bench.period_closed",
            durable=True,
            arguments={"x-max-length": 1000, "x-overflow": "drop-head"},
        )
        await closed.bind(EVENTS_EXCHANGE, "scoring.period_closed.#")


def messages_by_outcome(client: httpx.Client) -> dict[str, int]:
    text = client.get("/metrics").text
    outcomes: dict[str, int] = {}
    for outcome, value in HANDLED.findall(text):
        outcomes[outcome] = outcomes.get(outcome, 0) + int(float(value))
    return outcomes


def run_baseline(setup: Setup, events: list[Timed], round_number: int) -> Ingestion:
    asyncio.run(publish(setup.amqp_url, BASELINE_EXCHANGE, events))
    env = {
        **os.environ,
        "RABBITMQ_URL": setup.amqp_url,
        "MONGODB_URL": setup.mongodb_url,
        "MONGODB_DATABASE": f"bench_baseline_{round_number}",
        "QUEUE": BASELINE_QUEUE,
        "PREFETCH": str(setup.prefetch),
        "EXPECT": str(len(events)),
    }
    db_before = cpu_seconds(setup.db_pid)
    process = subprocess.Popen(
        [sys.executable, str(HERE / "baseline.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = [json.loads(line) for line in process.stdout]
    if process.wait(timeout=3600) != 0 or not lines or "acked" not in lines[-1]:
        raise RuntimeError(f"baseline failed: {lines}")
    db_cpu = cpu_seconds(setup.db_pid) - db_before
    result = lines[-1]
    return Ingestion(
        "baseline",
        len(events),
        consume_seconds=result["last"] - result["first"],
        cpu_ms=result["cpu"] * 1000 / len(events),
        db_cpu_ms=db_cpu * 1000 / len(events),
    )


def run_scoring(setup: Setup, events: list[Timed], round_number: int) -> Ingestion:
    env = {
        "RABBITMQ_URL": setup.amqp_url,
        "MONGODB_URL": setup.mongodb_url,
        "MONGODB_DATABASE": f"bench_scoring_ingest_{round_number}",
        "PREFETCH": str(setup.prefetch),
        "LOG_LEVEL": setup.log_level,
    }
    log = setup.work / f"scoring-ingest-{round_number}.log"
    # A first start declares scoring's inbox and bindings (and its indexes); then the backlog.
    service = ServiceProcess(name="scoring", env=env, log_path=log, port=free_port())
    service.start()
    service.wait_ready()
    service.stop()
    asyncio.run(publish(setup.amqp_url, EVENTS_EXCHANGE, events))

    spawned = time.monotonic()
    service.start()
    assert service.process is not None
    pid = service.process.pid
    # One kept-alive client, polled twice a second: a new client per poll (TLS context and all)
    # cost the benchmark process more CPU than it left the machine, and each /metrics page costs
    # scoring about a millisecond.
    client = httpx.Client(base_url=service.base_url, timeout=60)
    try:
        service.wait_ready()
        first = None
        cpu_first = db_first = 0.0
        while True:
            outcomes = messages_by_outcome(client)
            done = sum(outcomes.values())
            now = time.monotonic()
            if first is None and done > 0:
                first, cpu_first, db_first = now, cpu_seconds(pid), cpu_seconds(setup.db_pid)
            if done >= len(events):
                break
            if now - spawned > 3600:
                raise RuntimeError(f"scoring handled only {done} of {len(events)}")
            time.sleep(POLL_SECONDS)
        assert first is not None
        handled_at = now
        cpu_handled, db_handled = cpu_seconds(pid), cpu_seconds(setup.db_pid)
        peak = 0
        while True:
            status = client.get("/v1/status").json()
            peak = max(peak, status["pending_recomputes"])
            if status["current"]:
                break
            time.sleep(1.0)
        current_at = time.monotonic()
        cpu_current, db_current = cpu_seconds(pid), cpu_seconds(setup.db_pid)
    finally:
        client.close()
        service.stop()
    n = len(events)
    return Ingestion(
        "scoring",
        n,
        consume_seconds=handled_at - first,
        cpu_ms=(cpu_handled - cpu_first) * 1000 / n,
        db_cpu_ms=(db_handled - db_first) * 1000 / n,
        spawn_to_handled=handled_at - spawned,
        current_seconds=current_at - first,
        cpu_to_current_ms=(cpu_current - cpu_first) * 1000 / n,
        db_cpu_to_current_ms=(db_current - db_first) * 1000 / n,
        peak_pending=peak,
        not_handled=n - outcomes.get("handled", 0),
    )


def ingestion(setup: Setup, args: argparse.Namespace) -> None:
    asyncio.run(declare_baseline_queue(setup.amqp_url))
    stories = Stories(seed=6, prefix=f"b{uuid.uuid4().hex[:6]}")
    start = datetime(2026, 11, 26, tzinfo=SHANGHAI) - timedelta(days=args.days)

    def backlog() -> list[Timed]:
        events: list[Timed] = stories.stream(args.events, start, timedelta(days=args.days))
        return events[: args.events]

    plan = ["baseline"] + ["scoring", "baseline"] * args.rounds
    runs: list[Ingestion] = []
    print(
        f"ingestion: {args.events:,} events of case stories over {args.days} days, "
        f"prefetch {args.prefetch}; order {', '.join(plan)}",
        flush=True,
    )
    for index, name in enumerate(plan):
        events = backlog()
        result = (run_baseline if name == "baseline" else run_scoring)(setup, events, index)
        runs.append(result)
        extra = ""
        if result.current_seconds is not None:
            extra = (
                f"; current after {result.current_seconds:.1f} s "
                f"({result.cpu_to_current_ms:.2f} ms + DB {result.db_cpu_to_current_ms:.2f} ms "
                f"CPU per event, peak {result.peak_pending:,} marks pending; "
                f"{result.spawn_to_handled:.1f} s from spawn; {result.not_handled} not handled)"
            )
        print(
            f"  {name:<9} {result.consume_seconds:7.1f} s  {result.rate:7.0f}/s  "
            f"CPU {result.cpu_ms:.2f} ms + DB {result.db_cpu_ms:.2f} ms per event{extra}  "
            f"load {load()}",
            flush=True,
        )
    baselines = [r for r in runs if r.name == "baseline"]
    scorings = [r for r in runs if r.name == "scoring"]
    print()
    for number, scoring in enumerate(scorings):
        before, after = baselines[number], baselines[number + 1]
        mean_rate = (before.rate + after.rate) / 2
        mean_cpu = (before.cpu_ms + after.cpu_ms) / 2
        mean_db = (before.db_cpu_ms + after.db_cpu_ms) / 2
        print(
            f"round {number + 1}: scoring consumes at {scoring.rate / mean_rate:.0%} of the "
            f"baseline's rate (mean of the two around it; {scoring.rate / before.rate:.0%} / "
            f"{scoring.rate / after.rate:.0%}); CPU per event {scoring.cpu_ms / mean_cpu:.1f}x "
            f"in the consumer, {scoring.db_cpu_ms / mean_db:.1f}x in the database"
        )


# -- queries -----------------------------------------------------------------------------------


async def load_facts(setup: Setup, database_name: str, count: int) -> tuple[int, float, float]:
    """Insert about `count` facts; returns (facts, seconds building them, seconds inserting)."""
    client = create_client(setup.mongodb_url)
    try:
        database = client[database_name]
        await ensure_indexes(database, repository.INDEXES)
        facts = database[repository.FACTS]
        area_of = registry_areas()
        stories = Stories(seed=26, prefix="q")
        stored = 0
        building = inserting = 0.0
        reported = 0
        for batch in stories.batches(count, QUERY_START, QUERY_SPAN, INSERT_BATCH):
            started = time.perf_counter()
            documents = [
                repository.fact_document(
                    fact_from_event(t.event, event_id(), t.at + timedelta(seconds=2), area_of)
                )
                for t in batch
            ]
            middle = time.perf_counter()
            await facts.insert_many(documents, ordered=False)
            building += middle - started
            inserting += time.perf_counter() - middle
            stored += len(documents)
            if stored - reported >= 100_000:
                reported = stored
                print(
                    f"  stored {stored:,} facts ({stored / inserting:,.0f}/s inserting; "
                    f"load {load()})",
                    flush=True,
                )
        return stored, building, inserting
    finally:
        await client.close()


def rebuild(setup: Setup, database_name: str) -> tuple[float, float, str] | None:
    """`gridloop-scoring rebuild` as its own process: (seconds, peak RSS MiB, its summary)."""
    env = {**os.environ, "MONGODB_URL": setup.mongodb_url, "MONGODB_DATABASE": database_name}
    out = setup.work / "rebuild.out"
    started = time.perf_counter()
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gridloop_scoring", "rebuild"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    if process.returncode != 0:
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        print(f"  rebuild FAILED after {seconds:.1f} s (exit {process.returncode}): {last}")
        print(f"  (its whole output: {out})", flush=True)
        return None
    # ru_maxrss is in KiB on Linux.
    return seconds, usage.ru_maxrss / 1024, text.splitlines()[0]


async def inprocess_rebuild(setup: Setup, database_name: str) -> tuple[float, str]:
    """`gridloop_scoring.rebuild.rebuild(check=False)` on a client that waits for a busy database:
    create_client's 5 s connect timeout also bounds pymongo's heartbeat, and the stand-in answering
    one cursor over every fact is silent for longer, so the pool is cleared under the cursor."""
    client = create_client(setup.mongodb_url, server_selection_timeout_ms=600_000)
    try:
        database = client[database_name]
        facts = repository.FactStore(database[repository.FACTS], database[repository.UNMARKED])
        store = repository.FigureStore(database[repository.FIGURES], database[repository.SAMPLES])
        started = time.perf_counter()
        report = await scoring_rebuild(facts, store, SystemClock(), check=False)
        seconds = time.perf_counter() - started
        return seconds, f"facts read: {report.facts}; figures rebuilt: {report.figures}"
    finally:
        await client.close()


@dataclass
class Timing:
    label: str
    seconds: list[float]
    entries: int
    status: int


def time_get(
    client: httpx.Client, label: str, path: str, params: dict[str, str], repeats: int
) -> Timing:
    response = client.get(path, params=params)  # warm-up, not counted
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path, params=params)
        seconds.append(time.perf_counter() - started)
    body = response.json() if response.status_code == 200 else {}
    entries = len(body.get("entries", body.get("trend", [])))
    return Timing(label, seconds, entries, response.status_code)


def queries(setup: Setup, args: argparse.Namespace) -> None:
    database_name = "bench_scoring_query"
    print(
        f"queries: {args.facts:,} facts of twelve months of case stories "
        f"({QUERY_START:%Y-%m-%d} + {QUERY_SPAN.days} days), inserted in batches of "
        f"{INSERT_BATCH:,}",
        flush=True,
    )
    stored, building, inserting = asyncio.run(load_facts(setup, database_name, args.facts))
    print(
        f"  stored {stored:,} facts: {inserting:.0f} s inserting ({stored / inserting:,.0f}/s), "
        f"{building:.0f} s building them; load {load()}",
        flush=True,
    )
    db_before = cpu_seconds(setup.db_pid)
    rebuilt = rebuild(setup, database_name) if args.rebuild == "command" else None
    if rebuilt is not None:
        seconds, peak_rss, summary = rebuilt
        print(
            f"  rebuild: {seconds:.1f} s, peak RSS {peak_rss:,.0f} MiB, database CPU "
            f"{cpu_seconds(setup.db_pid) - db_before:.1f} s ({summary}); load {load()}",
            flush=True,
        )
    else:
        db_before = cpu_seconds(setup.db_pid)
        seconds, summary = asyncio.run(inprocess_rebuild(setup, database_name))
        _, peak_rss = rss_mib(os.getpid())
        print(
            f"  rebuild() in the benchmark process, patient client: {seconds:.1f} s, the "
            f"process's peak RSS {peak_rss:,.0f} MiB, database CPU "
            f"{cpu_seconds(setup.db_pid) - db_before:.1f} s ({summary}); load {load()}",
            flush=True,
        )
    if setup.db_pid is not None:
        print(
            f"  database RSS now / peak: {'/'.join(f'{x:,.0f}' for x in rss_mib(setup.db_pid))} MiB"
        )

    env = {
        "RABBITMQ_URL": setup.amqp_url,
        "MONGODB_URL": setup.mongodb_url,
        "MONGODB_DATABASE": database_name,
        "LOG_LEVEL": setup.log_level,
    }
    service = ServiceProcess(
        name="scoring", env=env, log_path=setup.work / "scoring-query.log", port=free_port()
    )
    service.start()
    timings: list[Timing] = []
    try:
        service.wait_ready(timeout=300)
        assert service.process is not None
        with httpx.Client(base_url=service.base_url, timeout=600) as client:
            # The busiest entity of each level this year: a long trend, every period filled.
            busiest = {level: top_entity(client, level) for level in ENTITY_LEVELS}
            for level in ENTITY_LEVELS:
                for period in (MONTH, QUARTER, YEAR):
                    for metric in ("handled", "on_time_completion_rate", "median_complete_seconds"):
                        timings.append(
                            time_get(
                                client,
                                f"rankings {level} {period} {metric}",
                                "/v1/rankings",
                                {"level": level, "period": period, "metric": metric},
                                args.repeats,
                            )
                        )
                        print(f"  {summary_line(timings[-1])}", flush=True)
            for level in ("grid", "department", "handler"):
                timings.append(
                    time_get(
                        client,
                        f"grades {level} {QUARTER}",
                        "/v1/grades",
                        {"level": level, "period": QUARTER},
                        args.repeats,
                    )
                )
                print(f"  {summary_line(timings[-1])}", flush=True)
            for level, entity in busiest.items():
                for period in (MONTH, YEAR):
                    timings.append(
                        time_get(
                            client,
                            f"entity {level} {period} (12-period trend)",
                            f"/v1/entities/{level}/{quote(entity, safe='')}",
                            {"period": period},
                            args.repeats,
                        )
                    )
                    print(f"  {summary_line(timings[-1])}", flush=True)
            timings.append(time_get(client, "status", "/v1/status", {}, args.repeats))
            print(f"  {summary_line(timings[-1])}", flush=True)
        rss, peak = rss_mib(service.process.pid)
    finally:
        service.stop()
    everything = [s for t in timings for s in t.seconds]
    print(
        f"  all {len(everything)} timed requests: p50 {percentile(everything, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(everything, 0.99) * 1000:.0f} ms; scoring RSS {rss:.0f} MiB "
        f"(peak {peak:.0f} MiB); load {load()}"
    )


def top_entity(client: httpx.Client, level: str) -> str:
    ranked = client.get(
        "/v1/rankings", params={"level": level, "period": YEAR, "metric": "handled"}
    ).json()
    return str(ranked["entries"][0]["entity_id"])


def summary_line(timing: Timing) -> str:
    ms = [s * 1000 for s in timing.seconds]
    return (
        f"{timing.label:<58} p50 {percentile(ms, 0.5):8.1f}  p99 {percentile(ms, 0.99):8.1f}  "
        f"max {max(ms):8.1f} ms  n={len(ms)}  entries {timing.entries:,}  "
        f"(HTTP {timing.status})"
    )


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="backlog per ingestion run")
    parser.add_argument("--days", type=int, default=30, help="the backlog's events span")
    parser.add_argument("--rounds", type=int, default=1, help="scoring runs (between baselines)")
    parser.add_argument("--prefetch", type=int, default=64, help="scoring's default PREFETCH")
    parser.add_argument("--facts", type=int, default=1_000_000, help="facts for the queries")
    parser.add_argument("--repeats", type=int, default=10, help="timed requests per query")
    parser.add_argument("--only", choices=("ingest", "query"))
    parser.add_argument(
        "--rebuild",
        choices=("command", "inprocess"),
        default="command",
        help="`gridloop-scoring rebuild` (then rebuild() in-process if it fails), or in-process",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridloop-bench-scoring-"))
    started = time.monotonic()
    with bench_infrastructure() as infra:
        amqp_url, mongodb_url, db_pid = infra.amqp_url, infra.mongodb_url, infra.db_pid
        how = f"{infra.database}; RabbitMQ vhost {infra.vhost}"
        print("== scoring benchmark ==")
        print(f"infrastructure  {how}")
        print(
            f"versions        Python {platform.python_version()}, pymongo {version('pymongo')}, "
            f"aio-pika {version('aio-pika')}, fastapi {version('fastapi')}"
        )
        print(
            f"machine         {os.cpu_count()} CPUs, {platform.platform()}; load average "
            f"{load()} at start (the machine is shared)"
        )
        setup = Setup(amqp_url, mongodb_url, db_pid, work, args.prefetch, args.log_level)
        if args.only in (None, "ingest"):
            ingestion(setup, args)
        if args.only in (None, "query"):
            queries(setup, args)
    print(f"took {time.monotonic() - started:.0f} s; logs in {work}; load {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
