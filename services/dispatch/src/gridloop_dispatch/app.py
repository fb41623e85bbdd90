"""dispatch's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_dispatch.api import router
from gridloop_dispatch.bootstrap import build_deps
from gridloop_dispatch.settings import DispatchSettings


def create_app(settings: DispatchSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    return service_app(
        deps.runtime,
        title="gridloop dispatch",
        description="Opens cases, routes work orders to department queues, records replies.",
        deps=deps,
        routers=[router],
    )
