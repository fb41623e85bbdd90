"""Wires sla-monitor: the runtime, timer and lease stores, handlers, lease keeper and scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_sla_monitor import repository
from gridloop_sla_monitor.clocks import ClockPolicy
from gridloop_sla_monitor.handlers import ClockHandlers
from gridloop_sla_monitor.leases import LeaseKeeper, Partitioning, new_replica_id
from gridloop_sla_monitor.scanner import TimerScanner
from gridloop_sla_monitor.service import ClockService
from gridloop_sla_monitor.settings import SlaMonitorSettings
from gridloop_sla_monitor.subscriptions import subscriptions

log = structlog.stdlib.get_logger("gridloop.sla_monitor")


@dataclass(frozen=True)
class SlaMonitorDeps:
    settings: SlaMonitorSettings
    runtime: ServiceRuntime
    policy: ClockPolicy
    timers: repository.TimerRepository
    leases: LeaseKeeper
    scanner: TimerScanner

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def warn_if_leases_outrun_the_database(settings: SlaMonitorSettings) -> None:
    """A replica cut from its database holds a delivery for up to the database timeout, and
    is waited for until its heartbeat lapses (`evidence`): from a round after its last heartbeat,
    that is two thirds of a lease. A shorter lease lets a verdict pass evidence still in hand."""
    if settings.sla_lease_seconds * 2 / 3 < settings.mongodb_timeout_ms / 1000:
        log.warning(
            "sla_lease_shorter_than_database_timeout",
            lease_seconds=settings.sla_lease_seconds,
            mongodb_timeout_ms=settings.mongodb_timeout_ms,
            wanted="SLA_LEASE_SECONDS >= 1.5 x MONGODB_TIMEOUT_MS / 1000",
        )


def build_deps(settings: SlaMonitorSettings, clock: Clock | None = None) -> SlaMonitorDeps:
    warn_if_leases_outrun_the_database(settings)
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.TIMERS],
    )
    policy = ClockPolicy(
        thresholds=settings.sla_warning_thresholds,
        calendars=settings.calendars(),
        accept_window=timedelta(seconds=settings.sla_accept_window_seconds),
    )
    timers = repository.TimerRepository(
        runtime.collection(repository.TIMERS), relay_now=runtime.relay_now
    )
    lease_store = repository.LeaseRepository(runtime.collection(repository.LEASES))
    watermarks = repository.WatermarkRepository(runtime.collection(repository.WATERMARKS))
    partitioning = Partitioning(lease_store, settings.sla_partitions)
    leases = LeaseKeeper(
        lease_store,
        partitioning,
        replica=settings.sla_replica_id or new_replica_id(),
        lease_seconds=settings.sla_lease_seconds,
        holding=runtime.holding_since,
    )

    scanner = TimerScanner(
        timers,
        runtime.clock,
        leases.owned,
        tick_seconds=settings.sla_tick_seconds,
        batch=settings.sla_scan_batch,
        concurrency=settings.sla_fire_concurrency,
        inbox=runtime.inbox_state,
        grace=timedelta(seconds=settings.sla_evidence_grace_seconds),
        watermark=watermarks.dispatch,
        watermark_patience=timedelta(seconds=settings.sla_watermark_patience_seconds),
        replica=leases.replica,
        members=leases.members,
        holding=runtime.holding_since,
    )
    # Newly held partitions may hold clocks already due (a dead replica's): scan them at once.
    leases.on_change = scanner.nudge
    runtime.subscriptions = subscriptions(
        ClockHandlers(
            ClockService(
                timers,
                runtime.clock,
                policy,
                partitioning.count,
                armed=scanner.nudge,
                watermarks=watermarks,
            )
        )
    )
    runtime.background = [leases.run, scanner.run]
    return SlaMonitorDeps(
        settings=settings,
        runtime=runtime,
        policy=policy,
        timers=timers,
        leases=leases,
        scanner=scanner,
    )
