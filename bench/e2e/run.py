"""Benchmark the whole loop: open-loop steps of rising report rates through the five services.

    uv run python bench/e2e/run.py [--rates 4,8,16] [--step-seconds 30] [--speed 7200]
                                   [--max-complete-hours 24] [--idle-seconds 30]

The system as `make up` runs it (five services as processes, one replica each; the local
RabbitMQ; the stand-in, or MONGODB_URL), driven by the city simulator: residents post through
the channels' mix, departments read their own queues with their own broker users and reply,
reporters give feedback. Each step sends `rate x step-seconds` reports open loop (a fresh seed
per step), then waits until the city is quiet before the next.

Per step it prints:
- report → order: from the resident's POST to the work order in the department's queue, for
  every new report the system routed (p50 / p99 / max);
- report → closed: from the POST to the reporter's satisfied feedback being accepted; this
  includes the simulated departments' and reporters' own delays (shares of the order's windows
  at `--speed`), so it says whether the loop keeps up, not how fast the system is;
- the deepest inbox at the step's end, and requests that failed;
- the database commands each service sent per report accepted (each service's
  `gridloop_db_commands_total`), the figure that does not depend on the machine's load. The
  services poll while idle (outbox sweeps, SLA scans and leases, recompute marks, due
  batches); their commands during `--idle-seconds` before the first step give an idle rate,
  and the table shows the commands net of it beside the gross count.

Only categories whose completion limit is at most `--max-complete-hours` are reported (as the
fault suite does), so that a step's stories end within seconds at `--speed`.

The sustainable rate is the highest step whose inboxes were drained by the step's end (fewer
than one second of reports left) and whose report → order p99 stayed under 2 s.

Not yet here (issue 16): the bare pipeline of the same shape beside it in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gridloop_chaos.system import CitySystem, SystemOptions
from gridloop_common.services import SERVICES
from gridloop_common.testing.bench import database_commands
from gridloop_common.testing.procstats import cpu_seconds
from gridloop_common.testing.secantus import free_port
from gridloop_dispatch.model import case_id_for
from gridloop_simulator.config import SimulationConfig, Targets
from gridloop_simulator.record import Record
from gridloop_simulator.simulation import Simulation

# A step's p99 report → order above this is not sustainable (issue 16).
ORDER_P99_LIMIT = 2.0


@dataclass
class Step:
    rate: float
    reports: int
    accepted: int = 0
    failed: int = 0
    to_order: list[float] = field(default_factory=list)
    to_close: list[float] = field(default_factory=list)
    deepest_inbox: tuple[str, int] = ("", 0)
    commands: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # sending
    wall: float = 0.0  # sending and settling: what the commands were counted over

    @property
    def sustainable(self) -> bool:
        return (
            bool(self.to_order)
            and percentile(self.to_order, 99) <= ORDER_P99_LIMIT
            and self.deepest_inbox[1] < max(self.rate, 1.0)
        )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def latencies(record: Record, step: Step) -> None:
    """Report → order and report → closed, from what the simulated people saw."""
    first_order: dict[str, float] = {}
    for order in record.orders.values():
        at = first_order.get(order.case_id)
        if at is None or order.received_at < at:
            first_order[order.case_id] = order.received_at
    closed: dict[str, float] = {}
    for feedback in record.feedback:
        if feedback.satisfied and feedback.status is not None and feedback.status < 300:
            closed.setdefault(feedback.case_id, feedback.at)
    for report in record.reports:
        if report.status is None or report.status >= 400:
            step.failed += report.kind != "bad"  # bad input is refused on purpose
            continue
        step.accepted += 1
        if report.kind != "new" or report.report_id is None:
            continue  # duplicates join a case; triage waits for the center
        case_id = case_id_for(report.report_id)
        if case_id in first_order:
            step.to_order.append(first_order[case_id] - report.sent_at)
        if case_id in closed:
            step.to_close.append(closed[case_id] - report.sent_at)


async def commands_by_service(system: CitySystem) -> dict[str, Counter[tuple[str, str]]]:
    async with httpx.AsyncClient(timeout=10) as http:
        return {
            service: await database_commands(http, system.urls(service)[0]) for service in SERVICES
        }


def service_pids(system: CitySystem) -> dict[str, int | None]:
    pids: dict[str, int | None] = {}
    for service in SERVICES:
        program = system.supervisor.programs.get(f"{service}-1")
        process = getattr(program, "process", None)
        pids[service] = process.pid if process is not None else None
    return pids


async def idle_commands(system: CitySystem, seconds: float) -> dict[str, Counter[tuple[str, str]]]:
    """What each service sends to its database in `seconds` with nothing to do."""
    before = await commands_by_service(system)
    await asyncio.sleep(seconds)
    after = await commands_by_service(system)
    for service in SERVICES:
        after[service].subtract(before[service])
        after[service] = +after[service]
    return after


async def run_step(
    system: CitySystem, rate: float, args: argparse.Namespace, n: int, sink_port: int
) -> Step:
    reports = max(1, round(rate * args.step_seconds))
    step = Step(rate, reports)
    config = SimulationConfig(
        reports=reports,
        rate=rate,
        seed=1_000 + n,
        speed=args.speed,
        max_complete_hours=args.max_complete_hours,
        broadcasts=0,
    )
    simulation = Simulation(config, system.simulator_targets(sink_port))
    before = await commands_by_service(system)
    pids = service_pids(system)
    cpu_before = {service: cpu_seconds(pid) for service, pid in pids.items()}
    await simulation.start()
    started = time.perf_counter()
    try:
        await simulation.run_reports()
        step.seconds = time.perf_counter() - started
        depths = await asyncio.to_thread(system.queue_depths)
        inboxes = {q: d for q, d in depths.items() if q.endswith(".inbox")}
        step.deepest_inbox = max(inboxes.items(), key=lambda kv: kv[1], default=("", 0))
        await simulation.settle(quiet_seconds=5.0, timeout=300.0)
    finally:
        await simulation.stop()
    step.wall = time.perf_counter() - started
    after = await commands_by_service(system)
    step.cpu = {service: cpu_seconds(pid) - cpu_before[service] for service, pid in pids.items()}
    for service in SERVICES:
        counted = after[service]
        counted.subtract(before[service])
        step.commands[service] = +counted
    latencies(simulation.record, step)
    return step


def print_steps(steps: list[Step]) -> None:
    print()
    print(
        "  rate/s  reports  accepted  failed   report→order p50 / p99 / max     "
        "report→closed p50 / p99   deepest inbox at the step's end"
    )
    for s in steps:
        order = s.to_order
        close = s.to_close
        mark = "" if s.sustainable else "   (not sustainable)"
        print(
            f"  {s.rate:6g}  {s.reports:7d}  {s.accepted:8d}  {s.failed:6d}"
            f"   {percentile(order, 50):6.3f} / {percentile(order, 99):6.3f} / "
            f"{max(order, default=float('nan')):6.3f} s"
            f"   {percentile(close, 50):7.2f} / {percentile(close, 99):7.2f} s"
            f"   {s.deepest_inbox[0] or '-'} {s.deepest_inbox[1]}{mark}"
        )
    sustainable = [s.rate for s in steps if s.sustainable]
    print()
    print(f"  sustainable rate: {max(sustainable) if sustainable else 'none'} reports/s")


def print_commands(
    steps: list[Step], idle: dict[str, Counter[tuple[str, str]]], idle_seconds: float
) -> None:
    total_accepted = sum(s.accepted for s in steps)
    if not total_accepted:
        return
    counted_seconds = sum(s.wall for s in steps)
    print()
    print(
        f"  database commands per report accepted, all steps ({total_accepted:,} reports over"
        f" {counted_seconds:.0f} s of sending and settling):"
    )
    print(f"    {'service':<12} {'gross':>7} {'net of idle':>12}   largest (gross)")
    gross_total = net_total = 0.0
    for service in SERVICES:
        counted: Counter[tuple[str, str]] = Counter()
        for step in steps:
            counted.update(step.commands.get(service, Counter()))
        gross = sum(counted.values()) / total_accepted
        idle_rate = sum(idle[service].values()) / idle_seconds
        net = max(0.0, sum(counted.values()) - idle_rate * counted_seconds) / total_accepted
        gross_total += gross
        net_total += net
        top = ", ".join(
            f"{command} {collection or '-'} {count / total_accepted:.1f}"
            for (command, collection), count in counted.most_common(3)
        )
        print(f"    {service:<12} {gross:7.1f} {net:12.1f}   {top}")
    print(f"    {'whole loop':<12} {gross_total:7.1f} {net_total:12.1f}")
    print(
        "    idle, commands a second: "
        + ", ".join(f"{s} {sum(idle[s].values()) / idle_seconds:.1f}" for s in SERVICES)
    )
    print()
    print("  CPU per report accepted (ms, gross), all steps:")
    for service in SERVICES:
        cpu = sum(s.cpu.get(service, 0.0) for s in steps)
        print(f"    {service:<12} {cpu / total_accepted * 1000:6.1f}")


def main(args: argparse.Namespace) -> None:
    rates = [float(r) for r in args.rates.split(",")]
    work_dir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    windows = SimulationConfig(speed=args.speed).system_windows()
    # One sink for every step: notify is pointed at it once, at start.
    sink_port = free_port()
    env = {**windows, **Targets(sink_port=sink_port).sink_urls}
    system = CitySystem(
        SystemOptions(work_dir=work_dir, replicas=1, env=env),
        say=lambda line: print(f"  {line}"),
    )
    print(f"whole-loop benchmark: steps of {', '.join(f'{r:g}' for r in rates)} reports/s")
    print(
        f"  machine  : {os.cpu_count()} CPUs, {platform.python_implementation()}"
        f" {platform.python_version()} on {platform.machine()}"
    )
    print(f"  system   : five services, one replica each, logs in {work_dir}")
    print(
        f"  city     : the simulator's default mix, {args.step_seconds:g} s per step, speed "
        f"{args.speed:g} (windows {windows}), categories completed within"
        f" {args.max_complete_hours:g} h"
    )
    system.start()
    steps: list[Step] = []
    idle: dict[str, Counter[tuple[str, str]]] = {}
    try:
        database = "MongoDB" if system.stand_in is None else "the SecantusDB stand-in"
        print(f"  database : {database} at {system.mongodb_url}")
        idle = asyncio.run(idle_commands(system, args.idle_seconds))
        for n, rate in enumerate(rates):
            step = asyncio.run(run_step(system, rate, args, n, sink_port))
            steps.append(step)
            print(
                f"  step {n + 1}: {rate:g}/s, {step.accepted} accepted in {step.seconds:.1f} s,"
                f" report→order p99 {percentile(step.to_order, 99):.3f} s"
            )
    finally:
        system.stop()
    print_steps(steps)
    print_commands(steps, idle, args.idle_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="4,8,16")
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=7_200.0)
    parser.add_argument("--max-complete-hours", type=float, default=24.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    main(parser.parse_args())
