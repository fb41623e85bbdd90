"""What idle notify replicas cost the database: its CPU with none beside its CPU with N.

    uv run python bench/notify/idle.py [--replicas 2] [--seconds 30]

Starts the stand-in (unless MONGODB_URL; then only notify's side is measured, the database's
CPU is not visible), a fresh vhost, and measures the database process's CPU over the same span
three times: with no client, with N idle notify replicas, with none again (the machine is
shared: the baseline is the mean of the two). An idle replica still looks for due batches
(retries) every NOTIFY_POLL_SECONDS; that sweep is what this measures.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from gridloop_common.testing.bench import bench_infrastructure
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port


def database_cpu_percent(pid: int | None, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / seconds


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--replicas", type=int, default=2)
    options.add_argument("--seconds", type=float, default=30.0)
    args = options.parse_args()
    with ExitStack() as stack:
        infra = stack.enter_context(bench_infrastructure("bench-notify-idle"))
        print(
            f"set-up: {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, {infra.database}, {args.replicas} notify replicas "
            f"(8 batch workers each), {args.seconds:.0f} s per phase"
        )
        before = database_cpu_percent(infra.db_pid, args.seconds)
        database = f"bench_notify_idle_{uuid.uuid4().hex[:8]}"
        logs = Path(tempfile.mkdtemp(prefix="bench-notify-idle-"))
        replicas = []
        for n in range(args.replicas):
            replica = ServiceProcess(
                "notify",
                {
                    "RABBITMQ_URL": infra.amqp_url,
                    "MONGODB_URL": infra.mongodb_url,
                    "MONGODB_DATABASE": database,
                    "LOG_LEVEL": "WARNING",
                },
                log_path=logs / f"notify-{n + 1}.log",
                port=free_port(),
            )
            replica.start()
            stack.callback(replica.stop)
            replicas.append(replica)
        for replica in replicas:
            replica.wait_ready()
        time.sleep(5)  # past start-up's index builds and first sweeps
        idle = database_cpu_percent(infra.db_pid, args.seconds)
        for replica in replicas:
            replica.stop()
        after = database_cpu_percent(infra.db_pid, args.seconds)
    baseline = (before + after) / 2
    rows = [
        ("no client", before),
        (f"{args.replicas} idle notify replicas", idle),
        ("no client again", after),
    ]
    for label, percent in rows:
        print(f"database CPU, {label:<26} {percent:5.1f} % of a core")
    print(f"idle notify costs the database {idle - baseline:.1f} points of a core")


if __name__ == "__main__":
    main()
