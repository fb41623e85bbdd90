"""intake's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_intake import errors
from gridloop_intake.api import router
from gridloop_intake.bootstrap import build_deps
from gridloop_intake.erasure_api import router as erasure_router
from gridloop_intake.open311_api import router as open311_router
from gridloop_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    app = service_app(
        deps.runtime,
        title="gridloop intake",
        description="Takes reports from every channel and publishes `report.received`.",
        deps=deps,
        routers=[router, open311_router, erasure_router],
        max_body_bytes=settings.intake_max_body_bytes,
    )
    errors.install(app)
    return app
