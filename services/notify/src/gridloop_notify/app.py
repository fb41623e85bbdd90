"""notify's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_notify.api import router
from gridloop_notify.bootstrap import build_deps
from gridloop_notify.settings import NotifySettings


def create_app(settings: NotifySettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    return service_app(
        deps.runtime,
        title="gridloop notify",
        description="Tells reporters what happened to their cases and tracks every delivery.",
        deps=deps,
        routers=[router],
    )
