"""scoring's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_scoring.api import router
from gridloop_scoring.bootstrap import build_deps
from gridloop_scoring.settings import ScoringSettings


def create_app(settings: ScoringSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    return service_app(
        deps.runtime,
        title="gridloop scoring",
        description="Keeps one fact per case and SLA event and counts them per department.",
        deps=deps,
        routers=[router],
    )
