"""scoring's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_scoring.api import router
from gridloop_scoring.bootstrap import build_deps
from gridloop_scoring.params import BadParameter, bad_parameter
from gridloop_scoring.settings import ScoringSettings


def create_app(settings: ScoringSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    app = service_app(
        deps.runtime,
        title="gridloop scoring",
        description=(
            "Rankings of grid workers, handlers, departments, townships, villages and grids by "
            "month, quarter and year; quarterly 1:2:7 grades; commendations when a period closes."
        ),
        deps=deps,
        routers=[router],
    )
    app.add_exception_handler(BadParameter, bad_parameter)
    return app
