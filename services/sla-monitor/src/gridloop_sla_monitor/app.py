"""sla-monitor's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_sla_monitor.api import router
from gridloop_sla_monitor.bootstrap import build_deps
from gridloop_sla_monitor.settings import SlaMonitorSettings


def create_app(settings: SlaMonitorSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    return service_app(
        deps.runtime,
        title="gridloop sla-monitor",
        description=(
            "Runs each order's accept and complete clocks; publishes `sla.warning`, "
            "`sla.breached`, `sla.met` and `sla.settled_late`; shows the SLA board and rates."
        ),
        deps=deps,
        routers=[router],
    )
