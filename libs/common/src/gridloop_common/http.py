"""The operational endpoints every service serves, and the app/lifespan glue around a runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gridloop_common.http_errors import BodySizeLimit, error_body, install_error_handlers
from gridloop_common.parked_api import ParkedMessages, parked_router
from gridloop_common.runtime import ServiceRuntime

# No service takes more in one request than a routing-rule table or a notice; intake less.
MAX_BODY_BYTES = 256 * 1024
# The largest page offset any listing takes: the database counts a skip in 8 bytes, and a
# fuzzer's 3·10^21 reached it as a 500; no listing is paged that deep (filter instead).
MAX_OFFSET = 10_000_000


def ops_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Broker and database reachable (503 otherwise)")
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    deps: object,
    routers: Sequence[APIRouter] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    parked: ParkedMessages | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan starts and stops the runtime; `deps` serve the routes.
    A service that consumes also serves its parked messages (`/v1/parked`, staff only), through
    `parked` when its own pages read them too. A body over `max_body_bytes` is refused with 413
    before it is read."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        structlog.contextvars.clear_contextvars()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(ops_router(runtime))
    for router in routers:
        app.include_router(router)
    if runtime.subscriptions:
        app.include_router(parked_router(parked or ParkedMessages(runtime)))
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.state.runtime = runtime
    app.state.deps = deps
    return app


async def app_deps(request: Request) -> Any:
    """The `deps` object given to `service_app`, for a service's typed dependency alias.

    Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread
    hand-off on every request for a single attribute read.
    """
    return request.app.state.deps


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """A machine-readable error body (`code`, `detail`, extra fields)."""
    return JSONResponse({**error_body(code, detail), **extra}, status_code=status)
