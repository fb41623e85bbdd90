"""One fault-suite run: the system up, the city playing, the schedule striking, then the audit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from gridloop_chaos.audit import (
    Audit,
    EndState,
    News,
    audit,
    missing_reporter_news,
    reporter_news,
    scoring_queries,
)
from gridloop_chaos.faults import PROXIED, Fault, Outcome, expected_duration, schedule
from gridloop_chaos.personal_data import PersonalDataScan, Scanned
from gridloop_chaos.system import (
    OPERATOR_KEY,
    CitySystem,
    SystemOptions,
    temporary_work_dir,
)
from gridloop_common.testing.processes import SERVICES
from gridloop_common.testing.secantus import free_port
from gridloop_simulator.city import PlannedReport
from gridloop_simulator.config import SimulationConfig, Targets
from gridloop_simulator.record import Record
from gridloop_simulator.simulation import Simulation

Say = Callable[[str], None]
# Collections holding an embedded outbox, per service database: all must be empty at the end.
OUTBOXES = {
    "intake": "reports",
    "dispatch": "cases",
    "sla-monitor": "timers",
    "scoring": "periods",
}


@dataclass(frozen=True)
class ChaosOptions:
    reports: int = 10_000
    # Reports per second; None spreads the reports over the fault schedule.
    rate: float | None = None
    seed: int = 7
    replicas: int = 2
    # City seconds per wall second: 7200 makes the 8-hour accept window 4 s.
    speed: float = 7_200.0
    max_complete_hours: float | None = 72.0
    hold: float = 3.0
    cut: float = 8.0
    gap: float = 3.0
    delivery_limit: int = 3
    faults: bool = True
    # Overlapping faults after the single ones (the short CI run strikes each fault once).
    overlaps: bool = True
    # Strike the schedule again and again until every report is sent (the full run, at a rate
    # the machine sustains); otherwise once, with the reports spread over it.
    repeat: bool = False
    settle_timeout: float = 600.0
    work_dir: Path | None = None
    broadcasts: int = 2
    city_notice: bool = True


@dataclass
class ChaosRun:
    options: ChaosOptions
    outcomes: list[Outcome]
    audit: Audit
    record: Record
    settled: bool
    started_at: float
    finished_at: float
    rate: float
    work_dir: Path
    notes: list[str] = field(default_factory=list)


async def run(options: ChaosOptions, say: Say) -> ChaosRun:
    work_dir = options.work_dir or temporary_work_dir()
    marker = f"chaos-poison-{uuid.uuid4().hex[:8]}"
    sink_port = free_port()
    config = SimulationConfig(
        reports=options.reports,
        rate=1.0,  # replaced below, once the schedule's length is known
        seed=options.seed,
        speed=options.speed,
        max_complete_hours=options.max_complete_hours,
        broadcasts=options.broadcasts,
        city_notice=options.city_notice,
    )
    system = CitySystem(
        SystemOptions(
            work_dir=work_dir,
            replicas=options.replicas,
            env=_service_env(options, config, Targets(sink_port=sink_port), marker),
            proxied=PROXIED if options.replicas > 1 else (),
        ),
        say=say,
    )
    faults = schedule(
        options.replicas, marker, hold=options.hold, cut=options.cut, overlaps=options.overlaps
    )
    if not options.faults:
        faults = []
    length = expected_duration(faults, gap=options.gap) or 60.0
    rate = options.rate or max(options.reports / length, 0.5)
    config = config.model_copy(update={"rate": rate})
    started = time.time()
    say(f"starting the system: {options.replicas} replica(s) of each service, logs in {work_dir}")
    await asyncio.to_thread(system.start)
    say(f"system ready in {time.time() - started:.0f} s; {options.reports} reports at {rate:.2f}/s")
    simulation = Simulation(config, system.simulator_targets(sink_port))
    supervising = asyncio.create_task(_supervise(system))
    outcomes: list[Outcome] = []
    settled = False
    try:
        await simulation.start()
        started = time.time()
        simulation.record.started_at = started
        sending = asyncio.create_task(simulation.run_reports())
        outcomes = await _strike(system, faults, options, say, sending)
        await sending
        say("reports sent; letting the city settle")
        settled = await simulation.settle(timeout=options.settle_timeout)
        settled = settled and await _system_quiet(system, options.settle_timeout, say)
        await simulation.stop()
        state = await asyncio.to_thread(
            _end_state, system, simulation.record, simulation.plan, marker
        )
        result = audit(simulation.record, simulation.plan, state)
        scanned = await asyncio.to_thread(_scan_personal_data, system, simulation.plan)
        result.checked["lines scanned for personal data"] = scanned.lines
        for leak in scanned.leaks[:MAX_LEAKS_SHOWN]:
            result.add("personal data", "unexpected", time.time(), f"{leak.kind} in {leak.where}")
        if len(scanned.leaks) > MAX_LEAKS_SHOWN:
            more = len(scanned.leaks) - MAX_LEAKS_SHOWN
            result.add("personal data", "unexpected", time.time(), f"and {more} more lines")
        for outcome in outcomes:
            for note in outcome.notes:
                result.add("fault", "unexpected", outcome.started_at, f"{outcome.name}: {note}")
        _keep(work_dir, simulation.record, state, result)
    finally:
        supervising.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervising
        await asyncio.to_thread(system.stop)
    return ChaosRun(
        options, outcomes, result, simulation.record, settled, started, time.time(), rate, work_dir
    )


async def _strike(
    system: CitySystem,
    faults: list[Fault],
    options: ChaosOptions,
    say: Say,
    sending: asyncio.Task[None],
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    await asyncio.sleep(options.gap * 2)  # a calm start, the row all others are compared with
    cycle = 1
    while True:
        outcomes += await _strike_once(system, faults, options, say, cycle if options.repeat else 0)
        if not options.repeat or sending.done() or not faults:
            return outcomes
        cycle += 1


async def _strike_once(
    system: CitySystem, faults: list[Fault], options: ChaosOptions, say: Say, cycle: int
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for fault in faults:
        outcome = Outcome(f"{cycle}. {fault.name}" if cycle else fault.name)
        outcomes.append(outcome)
        reason = fault.unavailable(system)
        if reason is not None:
            outcome.skipped = reason
            say(f"skipped: {fault.name} ({reason})")
            continue
        say(f"strike: {fault.name}")
        outcome.started_at = time.time()
        try:
            await fault.strike(system)
            await fault.heal(system)
            outcome.healed_at = time.time()
            replicas = [r for s in fault.services for r in system.replicas_of(s)]
            outcome.ready_after = await asyncio.to_thread(system.wait_ready, replicas, timeout=180)
        except Exception as error:  # a fault that did not heal is a finding
            # The run goes on and audits: what the system did meanwhile is the point.
            outcome.healed_at = outcome.healed_at or time.time()
            outcome.notes.append(f"{type(error).__name__}: {error}")
            say(f"  did not heal: {error}")
        else:
            say(f"  healed; every replica ready {outcome.ready_after:.1f} s later")
        await asyncio.sleep(options.gap)
    return outcomes


async def _supervise(system: CitySystem) -> None:
    while True:
        system.supervisor.poll()
        await asyncio.sleep(0.2)


async def _system_quiet(system: CitySystem, timeout: float, say: Say) -> bool:
    """Every inbox, retry tier and department queue empty, every outbox relayed, scoring's
    figures current: nothing is still on its way."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        depths = await asyncio.to_thread(system.queue_depths)
        busy = {q: n for q, n in depths.items() if n and not q.endswith(".dead")}
        pending = await asyncio.to_thread(_pending_outboxes, system)
        current = await _scoring_current(system)
        state = f"queues {busy}, outboxes {pending}, scoring current {current}"
        if not busy and not any(pending.values()) and current:
            return True
        if state != last:
            say(f"  waiting: {state}")
            last = state
        await asyncio.sleep(1.0)
    return False


def _pending_outboxes(system: CitySystem) -> dict[str, int]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(system.mongodb_url, serverSelectionTimeoutMS=3_000) as client:
        return {
            service: client[system.database(service)][collection].count_documents(
                {"outbox_pending": True}
            )
            for service, collection in OUTBOXES.items()
        }


async def _scoring_current(system: CitySystem) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            answer = await client.get(f"{system.urls('scoring')[0]}/v1/status")
        except httpx.HTTPError:
            return False
    return answer.status_code == 200 and bool(answer.json().get("current"))


def _end_state(
    system: CitySystem, record: Record, plan: Sequence[PlannedReport], marker: str
) -> EndState:
    client: MongoClient[dict[str, Any]] = MongoClient(system.mongodb_url, tz_aware=True, tzinfo=UTC)
    with client:
        stored = client[system.database("intake")]["reports"].find({}, {"linked_to": 1})
        reports = {d["_id"]: d for d in stored}
        cases = list(client[system.database("dispatch")]["cases"].find({}, {"outbox": 0}))
        console = {
            d["_id"]: d.get("entries") or []
            for d in client[system.database("console")]["cases"].find({}, {"entries": 1})
        }
    scoring: dict[tuple[str, str, str], dict[str, float]] = {}
    with httpx.Client(base_url=system.urls("scoring")[0], timeout=30) as api:
        for period, metric, level in scoring_queries(record):
            answer = api.get(
                "/v1/rankings", params={"period": period, "level": level, "metric": metric}
            )
            answer.raise_for_status()
            scoring[(period, metric, level)] = {
                e["entity_id"]: e["value"] or 0 for e in answer.json()["entries"]
            }
    parked = {
        service: [
            f"{m.type} {m.routing_key}: {m.reason}"
            for m in asyncio.run(system.parked(service))
            if marker.encode() not in m.body
        ]
        for service in SERVICES
    }
    news = reporter_news(record, plan, cases)
    return EndState(
        reports,
        cases,
        scoring,
        datetime.now(UTC),
        parked,
        _skipped_news(system, missing_reporter_news(record, news)),
        console,
    )


def _scan_personal_data(system: CitySystem, plan: Sequence[PlannedReport]) -> Scanned:
    """Every replica's log and metrics and every parking reason, searched for residents' data."""
    texts: list[tuple[str, str]] = []
    for service in SERVICES:
        for replica in system.replicas_of(service):
            texts.append((f"{replica}.log", system.log_tail(replica, chars=LOG_SCAN_CHARS)))
        with httpx.Client(timeout=30) as client:
            for url, replica in zip(system.urls(service), system.replicas_of(service), strict=True):
                texts.append((f"{replica} /metrics", client.get(f"{url}/metrics").text))
        reasons = [m.reason for m in asyncio.run(system.parked(service))]
        texts.append((f"the parking reasons of {service}", "\n".join(reasons)))
    return PersonalDataScan(plan).scan(texts)


def _skipped_news(system: CitySystem, missing: list[News]) -> frozenset[tuple[str, str]]:
    """Of the news no reporter heard, what notify recorded as skipped (asked case by case)."""
    skipped: set[tuple[str, str]] = set()
    with httpx.Client(
        base_url=system.urls("notify")[0], headers={"X-Api-Key": OPERATOR_KEY}, timeout=30
    ) as api:
        for case_id in sorted({n[0] for n in missing}):
            answer = api.get(f"/v1/cases/{case_id}/notices")
            if answer.status_code != 200:
                continue
            for notice in answer.json()["notices"]:
                totals = notice["totals"]
                if totals.get("skipped") and not totals.get("delivered"):
                    skipped.add((case_id, notice["kind"]))
    return frozenset(skipped)


def _keep(work_dir: Path, record: Record, state: EndState, result: Audit) -> None:
    """What the run saw, beside the replicas' logs, for whoever reads a failure."""
    record.write(work_dir / "record.jsonl")
    with (work_dir / "cases.jsonl").open("w", encoding="utf-8") as out:
        for case in state.cases:
            out.write(json.dumps(case, default=str, ensure_ascii=False) + "\n")
    with (work_dir / "findings.txt").open("w", encoding="utf-8") as out:
        for finding in result.findings:
            out.write(f"{finding.at:.3f} {finding.kind} {finding.check} {finding.detail}\n")


def _service_env(
    options: ChaosOptions, config: SimulationConfig, sink: Targets, marker: str
) -> dict[str, str]:
    return {
        **config.system_windows(),
        **sink.sink_urls,
        "SLA_TICK_SECONDS": "0.2",
        # At least 1.5 x MONGODB_TIMEOUT_MS: a replica cut from its database is waited for until
        # its heartbeat lapses, by when what it held is back in a queue (sla-monitor `evidence`).
        "SLA_LEASE_SECONDS": "4.5",
        "RETRY_DELAYS_MS": "500,2000,8000",
        "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.5",
        "OUTBOX_GRACE_SECONDS": "2",
        "PREFETCH": "32",
        "DELIVERY_LIMIT": str(options.delivery_limit),
        "MONGODB_TIMEOUT_MS": "3000",
        "NOTIFY_LEASE_SECONDS": "5",
        "NOTIFY_RETRY_BASE_SECONDS": "1",
        "NOTIFY_RETRY_MAX_SECONDS": "10",
        "GRIDLOOP_FAULT_POISON": marker,
    }


# Findings beyond this are counted, not listed: one leaking log call repeats on every message.
MAX_LEAKS_SHOWN = 20
# Whole logs: a full run writes some tens of megabytes per replica.
LOG_SCAN_CHARS = 1 << 30
