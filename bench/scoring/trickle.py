"""Benchmark scoring's recompute while facts trickle in: what keeping the figures current costs the
database per event, with and without gathering areas' and departments' marks on a tick.

    uv run python bench/scoring/trickle.py [--events 10000] [--days 1] [--trickle 600]
                                           [--rate 10] [--gather 30] [--rounds 1]

A city does not send a backlog: it sends a few events a second into a month that already holds
tens of thousands. Each run starts scoring (its own process, its own database) on a backlog of
`--events` events of case stories within one month (bench/scoring/stories.py), waits until its
figures are current, then publishes `--trickle` more events of the same month, `--rate` a second
(open loop), and waits until current again. Printed per run: the database's and scoring's CPU
from the first trickled event until current (per trickled event, and as a share of a core), the
most marks pending, and how long after the last event the figures were current. Runs alternate
`RECOMPUTE_GATHER_SECONDS=0` (every mark due a second after its fact) and `--gather`, so a shared
machine's drift falls on both; the ratio of the database's CPU per event is the figure.

Starts what it needs as run.py does: the MongoDB-wire stand-in unless MONGODB_URL is set, a vhost
of its own on the local broker (or RABBITMQ_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import mean

import httpx

from gridloop_common.contracts import EVENTS_EXCHANGE
from gridloop_common.periods import SHANGHAI
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load, messages_by_outcome, publish  # type: ignore[import-not-found]  # beside
from stories import Stories, Timed  # type: ignore[import-not-found]

POLL_SECONDS = 0.5


@dataclass
class Trickle:
    gather: float
    events: int
    seconds: float  # first trickled event → current
    lag: float  # last trickled event → current
    db_cpu: float
    scoring_cpu: float
    peak_pending: int

    @property
    def db_ms_per_event(self) -> float:
        return self.db_cpu * 1000 / self.events


def wait_current(client: httpx.Client, handled: int, limit: float) -> int:
    """Poll until `handled` messages are handled and the figures are current; the most marks
    pending meanwhile."""
    deadline = time.monotonic() + limit
    peak = 0
    while time.monotonic() < deadline:
        done = sum(messages_by_outcome(client).values())
        status = client.get("/v1/status").json()
        peak = max(peak, int(status["pending_recomputes"]))
        if done >= handled and status["current"]:
            return peak
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"not current within {limit:.0f} s ({done} of {handled} handled)")


async def publish_at_rate(amqp_url: str, events: list[Timed], rate: float) -> None:
    """Open loop: `rate` events a second, whatever scoring does with them."""
    started = time.monotonic()
    per_tick = max(1, round(rate / 10))
    for index in range(0, len(events), per_tick):
        await publish(amqp_url, EVENTS_EXCHANGE, events[index : index + per_tick])
        pause = started + (index + per_tick) / rate - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)


def run_once(
    amqp_url: str, mongodb_url: str, db_pid: int | None, work: Path, args: argparse.Namespace,
    gather: float, number: int,
) -> Trickle:  # fmt: skip
    stories = Stories(seed=16 + number, prefix=f"t{uuid.uuid4().hex[:6]}")
    start = datetime(2026, 11, 26, tzinfo=SHANGHAI) - timedelta(days=args.days)
    stream = stories.stream(args.events + args.trickle, start, timedelta(days=args.days))
    backlog, trickle = stream[: args.events], stream[args.events : args.events + args.trickle]
    env = {
        "RABBITMQ_URL": amqp_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": f"bench_scoring_trickle_{number}",
        "RECOMPUTE_GATHER_SECONDS": str(gather),
        "LOG_LEVEL": "INFO",
    }
    service = ServiceProcess(
        name="scoring", env=env, log_path=work / f"scoring-{number}.log", port=free_port()
    )
    service.start()
    client = httpx.Client(base_url=service.base_url, timeout=60)
    try:
        service.wait_ready()
        asyncio.run(publish(amqp_url, EVENTS_EXCHANGE, backlog))
        wait_current(client, len(backlog), 3600)
        assert service.process is not None
        pid = service.process.pid
        db_before, scoring_before = cpu_seconds(db_pid), cpu_seconds(pid)
        first = time.monotonic()
        asyncio.run(publish_at_rate(amqp_url, trickle, args.rate))
        last = time.monotonic()
        peak = wait_current(client, len(backlog) + len(trickle), 3600)
        current = time.monotonic()
        return Trickle(
            gather,
            len(trickle),
            seconds=current - first,
            lag=current - last,
            db_cpu=cpu_seconds(db_pid) - db_before,
            scoring_cpu=cpu_seconds(pid) - scoring_before,
            peak_pending=peak,
        )
    finally:
        client.close()
        service.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="the month's backlog")
    parser.add_argument("--days", type=int, default=1, help="the events' span (within a month)")
    parser.add_argument("--trickle", type=int, default=600, help="events trickled in")
    parser.add_argument("--rate", type=float, default=10.0, help="trickled events a second")
    parser.add_argument("--gather", type=float, default=30.0, help="RECOMPUTE_GATHER_SECONDS")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridloop-bench-trickle-"))
    started = time.monotonic()
    with bench_infrastructure() as infra:
        print("== scoring trickle benchmark ==")
        print(f"infrastructure  {infra.database}; RabbitMQ vhost {infra.vhost}")
        print(
            f"machine         {os.cpu_count()} CPUs, {platform.platform()}, Python "
            f"{platform.python_version()}; load average {load()} at start (shared)"
        )
        print(
            f"each run: {args.events:,} events of case stories over {args.days} day(s), then "
            f"{args.trickle:,} more at {args.rate:g}/s",
            flush=True,
        )
        plan = [0.0, args.gather] * args.rounds + [0.0]
        runs: list[Trickle] = []
        for number, gather in enumerate(plan):
            run = run_once(
                infra.amqp_url, infra.mongodb_url, infra.db_pid, work, args, gather, number
            )
            runs.append(run)
            print(
                f"  gather {gather:4.0f} s: current {run.seconds:6.1f} s after the first trickled "
                f"event ({run.lag:5.1f} s after the last); database CPU {run.db_cpu:6.1f} s "
                f"({run.db_ms_per_event:6.1f} ms per event, {run.db_cpu / run.seconds:4.0%} of a "
                f"core), scoring CPU {run.scoring_cpu:6.1f} s; peak {run.peak_pending:,} marks "
                f"pending; load {load()}",
                flush=True,
            )
    ungathered = mean(r.db_ms_per_event for r in runs if not r.gather)
    gathered = mean(r.db_ms_per_event for r in runs if r.gather)
    print(
        f"\ndatabase CPU per trickled event: {gathered:.1f} ms gathered on {args.gather:g} s ticks "
        f"against {ungathered:.1f} ms without ({gathered / ungathered:.2f}x); "
        f"took {time.monotonic() - started:.0f} s; logs in {work}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
