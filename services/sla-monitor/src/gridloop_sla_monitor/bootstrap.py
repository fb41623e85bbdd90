"""Wires sla-monitor: one place that builds the runtime, the timer store, handlers and the scan."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_sla_monitor import repository
from gridloop_sla_monitor.breaches import BreachScanner
from gridloop_sla_monitor.handlers import ClockHandlers
from gridloop_sla_monitor.settings import SlaMonitorSettings
from gridloop_sla_monitor.subscriptions import subscriptions


@dataclass(frozen=True)
class SlaMonitorDeps:
    settings: SlaMonitorSettings
    runtime: ServiceRuntime
    timers: repository.TimerRepository
    scanner: BreachScanner

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def build_deps(settings: SlaMonitorSettings, clock: Clock | None = None) -> SlaMonitorDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.TIMERS],
    )
    timers = repository.TimerRepository(
        runtime.collection(repository.TIMERS), relay_now=runtime.relay_now
    )
    runtime.subscriptions = subscriptions(ClockHandlers(timers, runtime.clock))
    scanner = BreachScanner(
        timers, runtime.clock, settings.sla_tick_seconds, settings.sla_scan_batch
    )
    runtime.background = [scanner.run]
    return SlaMonitorDeps(settings=settings, runtime=runtime, timers=timers, scanner=scanner)
