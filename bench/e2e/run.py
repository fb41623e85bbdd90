"""Benchmark the whole loop beside a bare pipeline: open-loop steps of rising report rates.

    uv run python bench/e2e/run.py [--rates 1,2,3,4,6,8,16,32,64,96,128] [--step-seconds 20]
                                   [--speed 7200] [--max-complete-hours 24] [--idle-seconds 30]

The system as `make up` runs it (five services as processes, one replica each; the local
RabbitMQ; the stand-in, or MONGODB_URL), driven by the city simulator: residents post through
the channels' mix, departments read their own queues with their own broker users and reply,
reporters give feedback. Each step sends `rate x step-seconds` reports open loop (a fresh seed
per step), then waits until the city is quiet before the next.

Beside it, on the same broker and database server and in the same run, the bare pipeline
(bare.py, bare_driver.py): an HTTP server doing intake's minimum (one insert, one confirmed
publish), a consumer doing dispatch's (one insert, one confirmed publish to the department's
queue), departments replying at once, a consumer storing the reply. At each rate both run a
step, the order alternating so the machine's drift falls on both; a pipeline stops climbing
after its first step that is not sustainable.

Per step and pipeline it prints:
- report → order: from the resident's POST to the work order in the department's queue, for
  every new report routed (p50 / p99 / max);
- report → closed: for the loop, from the POST to the reporter's satisfied feedback being
  accepted (this includes the simulated departments' and reporters' own delays, shares of the
  order's windows at `--speed`, so it says whether the loop keeps up, not how fast it is); for
  the bare pipeline, to the department's reply stored;
- the deepest inbox at the step's end, and requests that failed.
Then the p99 side by side at each rate, both sustainable rates and their ratio, and per
pipeline the database commands per report accepted by service (each process's
`gridloop_db_commands_total`), the figure that does not depend on the machine's load. The
services poll while idle (outbox sweeps, SLA scans and leases, recompute marks, due batches);
their commands during `--idle-seconds` before the first step give an idle rate, and the table
shows the commands net of it beside the gross count (the bare pipeline does not poll).

Only categories whose completion limit is at most `--max-complete-hours` are reported (as the
fault suite does), so that a step's stories end within seconds at `--speed`.

The sustainable rate is the highest step whose report → order p99 stayed under 2 s and whose
backlog stayed bounded: the deepest inbox, sampled every second while the step sends, was over
its last third no more than twice what it was over its middle third (plus 10 messages). How
long the inboxes take to empty after the last report is printed beside it, not judged: in the
loop the simulated city goes on for seconds after it (departments finish, reporters answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_driver import STAGES, BarePipeline  # type: ignore[import-not-found]  # beside this script
from steps import (  # type: ignore[import-not-found]
    ORDER_P99_LIMIT,
    Step,
    drain,
    percentile,
    watch_backlog,
)


def services_inbox(queue: str) -> bool:
    """The services' inboxes (not the bare pipeline's, nor the departments' queues)."""
    return queue.endswith(".inbox") and not queue.startswith("bare.")


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
        async with watch_backlog(step, system.queue_depths, services_inbox):
            await simulation.run_reports()
        step.seconds = time.perf_counter() - started
        await drain(step, system.queue_depths, services_inbox)
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


def print_steps(title: str, steps: list[Step]) -> None:
    print()
    print(f"  {title}")
    print(
        "  rate/s  reports  accepted  failed   report→order p50 / p99 / max     "
        "report→closed p50 / p99   deepest inbox at the last report, drained after"
    )
    for s in steps:
        order = s.to_order
        close = s.to_close
        mark = "" if s.sustainable else "   (not sustainable)"
        if not s.backlog_bounded:
            mark += " backlog grew"
        print(
            f"  {s.rate:6g}  {s.reports:7d}  {s.accepted:8d}  {s.failed:6d}"
            f"   {percentile(order, 50):6.3f} / {percentile(order, 99):6.3f} / "
            f"{max(order, default=float('nan')):6.3f} s"
            f"   {percentile(close, 50):7.2f} / {percentile(close, 99):7.2f} s"
            f"   {s.deepest_inbox[0] or '-'} {s.deepest_inbox[1]},"
            f" {'>60' if s.drained_after is None else f'{s.drained_after:.1f}'} s{mark}"
        )


def sustainable_rate(steps: list[Step]) -> float | None:
    rates = [s.rate for s in steps if s.sustainable]
    return max(rates) if rates else None


def print_comparison(loop: list[Step], bare: list[Step]) -> None:
    """The targets of issue 16: the loop's sustainable rate against the bare pipeline's, and
    its report → order p99 against the bare p99 at the same rate."""
    print()
    print("  the same rate, side by side: report → order p99 (whole loop / bare = ratio)")
    bare_by_rate = {s.rate: s for s in bare}
    for step in loop:
        other = bare_by_rate.get(step.rate)
        if other is None:
            continue
        mine, theirs = percentile(step.to_order, 99), percentile(other.to_order, 99)
        print(f"  {step.rate:6g}/s   {mine:6.3f} s / {theirs:6.3f} s = {mine / theirs:5.1f}x")
    ours, theirs = sustainable_rate(loop), sustainable_rate(bare)
    print()
    print(
        f"  sustainable rate (p99 report → order ≤ {ORDER_P99_LIMIT:g} s, the deepest inbox"
        " not growing while it sends):"
        f" whole loop {ours if ours is not None else 'none'}, bare"
        f" {theirs if theirs is not None else 'none'} reports/s"
    )
    if ours is not None and theirs:
        print(f"  whole loop / bare: {ours / theirs:.0%} (target ≥ 70 %)")


def print_commands(
    title: str,
    stages: tuple[str, ...],
    steps: list[Step],
    idle: dict[str, Counter[tuple[str, str]]],
    idle_seconds: float,
) -> None:
    total_accepted = sum(s.accepted for s in steps)
    if not total_accepted:
        return
    counted_seconds = sum(s.wall for s in steps)
    print()
    print(
        f"  {title}: database commands per report accepted ({total_accepted:,} reports over"
        f" {counted_seconds:.0f} s of sending and settling):"
    )
    print(f"    {'stage':<12} {'gross':>7} {'net of idle':>12}   largest (gross)")
    gross_total = net_total = 0.0
    for stage in stages:
        counted: Counter[tuple[str, str]] = Counter()
        for step in steps:
            counted.update(step.commands.get(stage, Counter()))
        gross = sum(counted.values()) / total_accepted
        idle_rate = sum(idle.get(stage, Counter()).values()) / idle_seconds
        net = max(0.0, sum(counted.values()) - idle_rate * counted_seconds) / total_accepted
        gross_total += gross
        net_total += net
        top = ", ".join(
            f"{command} {collection or '-'} {count / total_accepted:.1f}"
            for (command, collection), count in counted.most_common(3)
        )
        print(f"    {stage:<12} {gross:7.1f} {net:12.1f}   {top}")
    print(f"    {'all':<12} {gross_total:7.1f} {net_total:12.1f}")
    if idle:
        print(
            "    idle, commands a second: "
            + ", ".join(f"{s} {sum(idle[s].values()) / idle_seconds:.1f}" for s in stages)
        )
    print(
        "    CPU per report accepted (ms, gross): "
        + ", ".join(
            f"{stage} {sum(s.cpu.get(stage, 0.0) for s in steps) / total_accepted * 1000:.1f}"
            for stage in stages
        )
    )


async def measure(
    system: CitySystem,
    bare: BarePipeline,
    rates: list[float],
    args: argparse.Namespace,
    sink_port: int,
) -> tuple[list[Step], list[Step], dict[str, Counter[tuple[str, str]]]]:
    """Each rate once for each pipeline, the order alternating so the machine's drift falls on
    both; a pipeline stops climbing after its first step that is not sustainable."""
    idle = await idle_commands(system, args.idle_seconds)
    loop_steps: list[Step] = []
    bare_steps: list[Step] = []
    offset = 0
    for n, rate in enumerate(rates):
        climbing = {
            "loop": all(s.sustainable for s in loop_steps),
            "bare": all(s.sustainable for s in bare_steps),
        }
        for name in ("bare", "loop") if n % 2 == 0 else ("loop", "bare"):
            if not climbing[name]:
                continue
            if name == "loop":
                step = await run_step(system, rate, args, n, sink_port)
                loop_steps.append(step)
            else:
                step = await bare.run_step(rate, args.step_seconds, system.queue_depths, offset)
                offset += step.reports
                bare_steps.append(step)
            print(
                f"  step {n + 1} ({name}): {rate:g}/s, {step.accepted} accepted in"
                f" {step.seconds:.1f} s, report→order p99 {percentile(step.to_order, 99):.3f} s"
            )
        if not any(climbing.values()):
            break
    return loop_steps, bare_steps, idle


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
        "  bare     : three processes (bench/e2e/bare.py): an HTTP insert + confirmed publish,"
        " a consumer's insert + confirmed publish to the department's queue, a consumer"
        " storing the reply; the departments reply at once"
    )
    print(
        f"  city     : the simulator's default mix, {args.step_seconds:g} s per step, speed "
        f"{args.speed:g} (windows {windows}), categories completed within"
        f" {args.max_complete_hours:g} h"
    )
    system.start()
    loop_steps: list[Step] = []
    bare_steps: list[Step] = []
    idle: dict[str, Counter[tuple[str, str]]] = {}
    try:
        database = "MongoDB" if system.stand_in is None else "the SecantusDB stand-in"
        print(f"  database : {database} at {system.mongodb_url}")

        async def both() -> None:
            nonlocal loop_steps, bare_steps, idle
            bare = BarePipeline(
                system.rabbitmq_url, system.mongodb_url, f"{system.prefix}_bare", work_dir
            )
            await bare.start()
            try:
                loop_steps, bare_steps, idle = await measure(system, bare, rates, args, sink_port)
            finally:
                await bare.stop()

        asyncio.run(both())
    finally:
        system.stop()
    print_steps("whole loop", loop_steps)
    print_steps("bare pipeline", bare_steps)
    print_comparison(loop_steps, bare_steps)
    print_commands("whole loop", tuple(SERVICES), loop_steps, idle, args.idle_seconds)
    print_commands("bare pipeline", STAGES, bare_steps, {}, args.idle_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1,2,3,4,6,8,16,32,64,96,128")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--speed", type=float, default=7_200.0)
    parser.add_argument("--max-complete-hours", type=float, default=24.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    main(parser.parse_args())
