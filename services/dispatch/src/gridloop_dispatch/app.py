"""dispatch's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_dispatch import api, operator_api
from gridloop_dispatch.bootstrap import build_deps
from gridloop_dispatch.settings import DispatchSettings


def create_app(settings: DispatchSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    app = service_app(
        deps.runtime,
        title="gridloop dispatch",
        description=(
            "The smart-governance center: routes cases to department queues, takes department "
            "replies over AMQP and HTTP, keeps every hand-off in the case's timeline. Department "
            "endpoints take `X-Api-Key: <code>.<secret>`; the center's take the operator key."
        ),
        deps=deps,
        routers=[api.router, operator_api.router],
    )
    return app
