"""Benchmark notify's reporter notices: a backlog of case news, one SMS each, and what it costs.

    uv run python bench/notify/reporters.py [--notices 1000] [--replicas 1]

The fault suite's 10,000-report run left notify completing about two reporter notices a second
against seven coming in (docs/reliability.md). This measures that path alone: every acceptance,
completion and closure tells one reporter, and each is its own notice (stored, expanded into a
batch, claimed, sent, settled, counted).

Starts what it needs: the MongoDB-wire stand-in (unless MONGODB_URL is set), a fresh vhost on the
local broker, the receiver (bench/notify/sink.py) and notify as real processes.

1. N `report.received` with an SMS reply address, and waits until notify has stored them all.
2. N `case.accepted` for those reports published at once (a backlog, as after an outage), and
   waits until the receiver has N texts and every notice is completed in notify's database.

Prints the set-up, notices per second (sent, and completed), notify's and the database's CPU per
notice, and the database commands notify sent per notice, by command and collection (notify's
`gridloop_db_commands_total`): the figure that does not depend on the machine's load.
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
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import aio_pika
import httpx

from gridloop_common.contracts import CaseAccepted, Message, ReplyAddress, ReportReceived
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.mongo import create_client
from gridloop_common.testing.bench import bench_infrastructure, database_commands
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port

HERE = Path(__file__).resolve().parent
GRID = "grid-xijin-001-01"
TOWNSHIP = "twp-xijin"
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def report_received(n: int, run: str) -> ReportReceived:
    return ReportReceived(
        report_id=f"R-{run}-{n}",
        channel="hotline",
        grid_id=GRID,
        category_code="road-damage",
        description="路面坑洼",
        reported_at=NOW,
        township_id=TOWNSHIP,
        reporter_id=f"P-{run}-{n}",
        reply_to=ReplyAddress(channel="sms", address=f"138{n:08d}"),
    )


def case_accepted(n: int, run: str) -> CaseAccepted:
    return CaseAccepted(
        case_id=f"C-{run}-{n}",
        order_id=f"O-{run}-{n}",
        department="city-mgmt",
        category_code="road-damage",
        grid_id=GRID,
        township_id=TOWNSHIP,
        report_id=f"R-{run}-{n}",
        reporter_id=f"P-{run}-{n}",
        accepted_at=NOW,
    )


async def publish_all(amqp_url: str, messages: list[Message]) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        publisher = Publisher(await connection.channel(), app_id="bench")
        for message in messages:
            await publisher.publish(envelope(message, source="bench", time=datetime.now(UTC)))


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], timeout: float = 1_800.0
) -> float:
    """Seconds until `check()` is true."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def measure(
    args: argparse.Namespace,
    amqp_url: str,
    mongodb_url: str,
    database: str,
    sink: str,
    notifies: list[ServiceProcess],
    db_pid: int | None,
) -> dict[str, object]:
    run = uuid.uuid4().hex[:6]
    n: int = args.notices
    client = create_client(mongodb_url)
    reporters = client[database]["reporters"]
    notices = client[database]["notices"]
    async with httpx.AsyncClient() as http:

        async def texts_sent() -> int:
            answer: dict[str, int] = (await http.get(f"{sink}/stats/sms")).json()
            return answer["keys"]

        await publish_all(amqp_url, [report_received(i, run) for i in range(n)])

        async def all_remembered() -> bool:
            return int(await reporters.count_documents({})) >= n

        await wait_for("reply addresses stored", all_remembered)
        await asyncio.sleep(1.0)  # the last acks and their writes

        async def commands_now() -> Counter[tuple[str, str]]:
            total: Counter[tuple[str, str]] = Counter()
            for notify in notifies:
                total.update(await database_commands(http, notify.base_url))
            return total

        before = await commands_now()
        notify_cpu = sum(cpu_seconds(p.process.pid if p.process else None) for p in notifies)
        db_cpu = cpu_seconds(db_pid)
        started = time.perf_counter()
        await publish_all(amqp_url, [case_accepted(i, run) for i in range(n)])

        async def all_sent() -> bool:
            return bool(await texts_sent() >= n)

        sent_after = await wait_for("every text sent", all_sent)

        async def all_completed() -> bool:
            return int(await notices.count_documents({"status": "completed"})) >= n

        await wait_for("every notice completed", all_completed)
        completed_after = time.perf_counter() - started
        notify_cpu = (
            sum(cpu_seconds(p.process.pid if p.process else None) for p in notifies) - notify_cpu
        )
        db_cpu = cpu_seconds(db_pid) - db_cpu
        await asyncio.sleep(2.0)  # housekeeping that follows completion belongs to the notices
        commands = await commands_now()
        commands.subtract(before)
        posts: dict[str, int] = (await http.get(f"{sink}/stats/sms")).json()
    await client.close()
    return {
        "sent_seconds": sent_after,
        "completed_seconds": completed_after,
        "notify_cpu": notify_cpu,
        "db_cpu": db_cpu,
        "commands": +commands,
        "posts": posts,
    }


def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        infra = stack.enter_context(bench_infrastructure("bench-reporters"))
        sink_port = free_port()
        sink_process = subprocess.Popen([sys.executable, str(HERE / "sink.py"), str(sink_port)])
        stack.callback(sink_process.terminate)
        sink = f"http://127.0.0.1:{sink_port}"
        logs = Path(tempfile.mkdtemp(prefix="bench-reporters-"))
        database = f"bench_reporters_{uuid.uuid4().hex[:8]}"
        notifies = []
        for replica in range(args.replicas):
            notify = ServiceProcess(
                "notify",
                {
                    "RABBITMQ_URL": infra.amqp_url,
                    "MONGODB_URL": infra.mongodb_url,
                    "MONGODB_DATABASE": database,
                    "NOTIFY_SMS_GATEWAY_URL": f"{sink}/sms",
                    "NOTIFY_RATE_LIMITS": "sms=0",
                    "LOG_LEVEL": "WARNING",
                },
                logs / f"notify-{replica}.log",
                free_port(),
            )
            notify.start()
            stack.callback(notify.stop)
            notifies.append(notify)
        for notify in notifies:
            notify.wait_ready()

        print(f"notify reporter-notice benchmark: {args.notices:,} acceptances, one SMS each")
        print(
            f"  machine  : {os.cpu_count()} CPUs, {platform.python_implementation()}"
            f" {platform.python_version()} on {platform.machine()}, pymongo {version('pymongo')}"
        )
        print(f"  database : {infra.database}")
        print(f"  broker   : RabbitMQ, vhost {infra.vhost}")
        print("  receiver : bench/notify/sink.py (asyncio, 200 to every POST), its own process")
        print(f"  notify   : {args.replicas} replica(s), default settings, no rate limit")
        load = os.getloadavg()[0]
        result = asyncio.run(
            measure(
                args,
                infra.amqp_url,
                infra.mongodb_url,
                database,
                sink,
                notifies,
                infra.db_pid,
            )
        )

    n = args.notices
    sent, completed = float(result["sent_seconds"]), float(result["completed_seconds"])  # type: ignore[arg-type]
    commands: Counter[tuple[str, str]] = result["commands"]  # type: ignore[assignment]
    posts: dict[str, int] = result["posts"]  # type: ignore[assignment]
    print()
    print(f"  sent     : {sent:7.1f} s  {n / sent:6.1f} notices/s to the receiver")
    print(f"  completed: {completed:7.1f} s  {n / completed:6.1f} notices/s stored as completed")
    print(f"  receiver : {posts['posts']:,} POSTs under {posts['keys']:,} keys")
    notify_cpu, db_cpu = float(result["notify_cpu"]), float(result["db_cpu"])  # type: ignore[arg-type]
    db = f", database {db_cpu / n * 1000:.1f} ms" if infra.db_pid else ""
    print(f"  CPU      : notify {notify_cpu / n * 1000:.1f} ms per notice{db}")
    print(
        f"  load     : 1-minute load average {load:.1f} at the start, {os.getloadavg()[0]:.1f}"
        " at the end"
    )
    total = sum(commands.values())
    print(f"  database commands per notice: {total / n:.2f}")
    for (command, collection), count in sorted(commands.items(), key=lambda kv: -kv[1]):
        print(f"    {command:>16} {collection:<14} {count / n:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--notices", type=int, default=1_000)
    parser.add_argument("--replicas", type=int, default=1)
    main(parser.parse_args())
