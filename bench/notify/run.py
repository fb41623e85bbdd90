"""Benchmark notify: a city-wide SMS notice to every household, beside a bare POST loop.

    uv run python bench/notify/run.py [--township twp-jialu] [--in-flight 16] [--batch-size 100]

Starts what it needs: the MongoDB-wire stand-in (unless MONGODB_URL is set), a fresh RabbitMQ
vhost on the local broker (or RABBITMQ_URL), a receiver process (bench/notify/sink.py) and notify
as a real process with its SMS gateway pointed at the receiver and no rate limit.

1. bare loop: this process POSTs one SMS body per household to the receiver, through httpx with
   the same pools and the same number of requests in flight as notify: the cost of the HTTP
   calls alone.
2. notify: POST /v1/notices (audience: the city, channel sms) and poll the notice until it is
   completed; every household's delivery is stored, sent, and its outcome stored.
3. the bare loop again: the machine is shared, so notify is compared with the mean of the two.

Prints the set-up, wall time and deliveries per second of both, the ratio, notify's CPU and the
database's CPU, and notify's memory: peak RSS while sending (VmHWM) and RSS at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from gridloop_common.registry import load_registry
from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds, rss_kib
from gridloop_common.testing.secantus import free_port
from gridloop_notify.bootstrap import pool_shape

BENCH_OPERATOR_KEY = "bench-operator-key"

HERE = Path(__file__).resolve().parent
TEXT = "【防汛通知】今晚有强降雨，请居民减少外出，注意安全。"  # noqa: RUF001


async def stats(sink: str, path: str) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        answer: dict[str, int] = (await client.get(f"{sink}/stats{path}")).json()
        return answer


async def bare_loop(
    sink: str, recipients: list[str], in_flight: int, path: str
) -> tuple[float, float]:
    """Wall seconds, and this process's CPU seconds, to POST once per recipient."""
    pools, per_pool = pool_shape(in_flight)
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    clients = [httpx.AsyncClient(limits=limits, timeout=10) for _ in range(pools)]
    slots = asyncio.Semaphore(in_flight)
    notice_id = "N-bare-" + uuid.uuid4().hex[:8]

    async def post(i: int, to: str) -> None:
        async with slots:
            key = str(uuid.uuid4())
            body = {
                "delivery_id": key,
                "notice_id": notice_id,
                "kind": "broadcast",
                "to": to,
                "text": TEXT,
            }
            response = await clients[i % pools].post(
                f"{sink}{path}", json=body, headers={"Idempotency-Key": key}
            )
            response.raise_for_status()

    started, cpu = time.perf_counter(), time.process_time()
    # Fed in slices so the loop does not hold 86,000 waiting tasks (notify does not either).
    for first in range(0, len(recipients), 2_000):
        await asyncio.gather(
            *(post(i, to) for i, to in enumerate(recipients[first : first + 2_000], first))
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.aclose()
    return elapsed, cpu


async def notify_run(
    notify: ServiceProcess, audience: dict[str, Any], expected: int
) -> dict[str, Any]:
    pid = notify.process.pid if notify.process else None
    assert pid is not None
    async with httpx.AsyncClient(
        base_url=notify.base_url, headers={"X-Api-Key": BENCH_OPERATOR_KEY}, timeout=30
    ) as client:
        cpu_before = cpu_seconds(pid)
        rss_before = rss_kib(pid)[0]
        started = time.perf_counter()
        answer = await client.post(
            "/v1/notices",
            json={"audience": audience, "title": "防汛通知", "body": TEXT, "channels": ["sms"]},
        )
        answer.raise_for_status()
        notice_id = answer.json()["notice_id"]
        assert answer.json()["recipients"] == expected, answer.json()
        expanded_at = None
        peak_rss = rss_before
        while True:
            await asyncio.sleep(0.25)
            peak_rss = max(peak_rss, rss_kib(pid)[0])
            notice = (await client.get(f"/v1/notices/{notice_id}", params={"limit": 1})).json()
            if expanded_at is None and notice["status"] != "expanding":
                expanded_at = time.perf_counter()
            if notice["status"] == "completed":
                break
        elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "expansion_seconds": (expanded_at or started) - started,
        "totals": notice["totals"],
        "cpu_seconds": cpu_seconds(pid) - cpu_before,
        "rss_start_kb": rss_before,
        "rss_peak_kb": peak_rss,
        "rss_end_kb": rss_kib(pid)[0],
        "hwm_kb": rss_kib(pid)[1],
    }


def main(args: argparse.Namespace) -> None:
    registry = load_registry()
    if args.township:
        audience: dict[str, Any] = {"level": "township", "ids": [args.township]}
        grids = [g.id for g in registry.grids_of("township", [args.township])]
        phones = [h.contact for h in registry.households(grids)]
    else:
        audience = {"level": "city"}
        phones = [h.contact for h in registry.households()]
    with ExitStack() as stack:
        infra = stack.enter_context(bench_infrastructure("bench-notify"))
        mongodb_url, mongo_pid = infra.mongodb_url, infra.db_pid

        sink_port = free_port()
        sink_process = subprocess.Popen([sys.executable, str(HERE / "sink.py"), str(sink_port)])
        stack.callback(sink_process.terminate)
        sink = f"http://127.0.0.1:{sink_port}"
        logs = Path(tempfile.mkdtemp(prefix="bench-notify-"))
        notify = ServiceProcess(
            "notify",
            {
                "RABBITMQ_URL": infra.amqp_url,
                "MONGODB_URL": mongodb_url,
                "MONGODB_DATABASE": f"bench_notify_{uuid.uuid4().hex[:8]}",
                "NOTIFY_SMS_GATEWAY_URL": f"{sink}/notify",
                "NOTIFY_RATE_LIMITS": "sms=0",
                "OPERATOR_API_KEY": BENCH_OPERATOR_KEY,
                "NOTIFY_MAX_IN_FLIGHT": str(args.in_flight),
                "NOTIFY_BATCH_SIZE": str(args.batch_size),
                "LOG_LEVEL": "WARNING",
            },
            logs / "notify.log",
            free_port(),
        )
        notify.start()
        stack.callback(notify.stop)
        notify.wait_ready()

        pools, per_pool = pool_shape(args.in_flight)
        print(f"notify benchmark: one SMS per household, audience {audience}")
        print(
            f"  machine   : {os.cpu_count()} CPUs, {platform.python_implementation()}"
            f" {platform.python_version()} on {platform.machine()}, httpx {version('httpx')}"
        )
        print(f"  database  : {infra.database}")
        print(f"  broker    : RabbitMQ, vhost {infra.vhost}")
        print("  receiver  : bench/notify/sink.py (asyncio, 200 to every POST), its own process")
        print(
            f"  notify    : its own process; batches of {args.batch_size}, {args.in_flight} sends"
            f" in flight ({pools} httpx pools x {per_pool}), 8 workers, no rate limit"
        )
        print(f"  recipients: {len(phones):,} households")
        load = os.getloadavg()[0]

        bare_runs, bare_cpu, bare, result, db_cpu, sent = asyncio.run(
            measure(sink, phones, args.in_flight, notify, audience, mongo_pid)
        )

    delivered = result["totals"]["delivered"]
    bare_seconds = sum(bare_runs) / len(bare_runs)
    print()
    print(
        f"  bare loop : {bare_seconds:7.1f} s  {len(phones) / bare_seconds:6.0f} POSTs/s"
        f" (mean of {', '.join(f'{b:.1f} s' for b in bare_runs)}, before and after notify)"
    )
    print(
        f"  notify    : {result['seconds']:7.1f} s  {delivered / result['seconds']:6.0f}"
        f" deliveries/s (expansion {result['expansion_seconds']:.1f} s)"
    )
    print(
        f"  outcome   : {delivered:,} delivered, {result['totals']['failed']} failed; the"
        f" receiver saw {sent['posts']:,} POSTs under {sent['keys']:,} keys"
        f" (bare loop: {bare['keys']:,} per run)"
    )
    print(
        f"  ratio     : notify takes {result['seconds'] / bare_seconds:.2f}x the bare loop's time"
    )
    print(
        f"  load      : 1-minute load average {load:.1f} at the start, {os.getloadavg()[0]:.1f}"
        " at the end (other work on the machine slows both runs)"
    )
    database_cpu = (
        f", database {db_cpu:.1f} s ({db_cpu / delivered * 1000:.2f} ms/delivery)"
        if mongo_pid
        else ""
    )
    print(
        f"  CPU       : notify {result['cpu_seconds']:.1f} s"
        f" ({result['cpu_seconds'] / delivered * 1000:.2f} ms/delivery){database_cpu};"
        f" bare loop {bare_cpu:.1f} s ({bare_cpu / len(phones) * 1000:.2f} ms/POST)"
    )
    print(
        f"  notify RSS: {result['rss_start_kb'] / 1024:.0f} MiB idle before,"
        f" peak {result['rss_peak_kb'] / 1024:.0f} MiB while sending"
        f" (VmHWM {result['hwm_kb'] / 1024:.0f} MiB), {result['rss_end_kb'] / 1024:.0f} MiB after"
    )


async def measure(
    sink: str,
    phones: list[str],
    in_flight: int,
    notify: ServiceProcess,
    audience: dict[str, Any],
    mongo_pid: int | None,
) -> tuple[list[float], float, dict[str, int], dict[str, Any], float, dict[str, int]]:
    before, cpu_before = await bare_loop(sink, phones, in_flight, "/bare")
    db_cpu_before = cpu_seconds(mongo_pid)
    result = await notify_run(notify, audience, len(phones))
    db_cpu = cpu_seconds(mongo_pid) - db_cpu_before
    sent = await stats(sink, "/notify")
    after, cpu_after = await bare_loop(sink, phones, in_flight, "/bare-again")
    bare = await stats(sink, "/bare")
    assert bare["keys"] == len(phones) == (await stats(sink, "/bare-again"))["keys"], bare
    return [before, after], (cpu_before + cpu_after) / 2, bare, result, db_cpu, sent


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--township", help="a township id instead of the whole city")
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=100)
    main(parser.parse_args())
