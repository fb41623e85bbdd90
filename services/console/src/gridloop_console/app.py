"""The console's FastAPI application factory: pages, fragments, the live stream, its assets."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from gridloop_common.clock import Clock
from gridloop_common.http import problem, service_app
from gridloop_console import (
    case_actions,
    map_pages,
    notice_pages,
    pages,
    parked_pages,
    rankings_pages,
    web,
)
from gridloop_console.bootstrap import build_deps
from gridloop_console.settings import ConsoleSettings
from gridloop_console.upstream import UpstreamError

STATIC = Path(__file__).parent / "static"


def create_app(settings: ConsoleSettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    app = service_app(
        deps.runtime,
        title="gridloop console",
        description=(
            "The operations console of the smart-governance center: what is reported, who holds "
            "it, what is about to breach. Pages need a session (sign in with the operator or "
            "viewer key) or the key in `X-Api-Key`."
        ),
        deps=deps,
        routers=[
            pages.router,
            case_actions.router,
            map_pages.router,
            rankings_pages.router,
            notice_pages.router,
            parked_pages.router,
        ],
        parked=deps.parked,
    )
    # The map page is 2,676 shapes: compressed it is a tenth. (Streams are left alone.)
    app.add_middleware(GZipMiddleware, minimum_size=4_096)
    # Every asset is served from here: a city's network is often closed to CDNs.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(web.SignInRequired)
    async def to_sign_in(_: Request, error: web.SignInRequired) -> RedirectResponse:
        return RedirectResponse(f"/signin?next={quote(error.back_to)}", status_code=303)

    @app.exception_handler(UpstreamError)
    async def refused_upstream(_: Request, error: UpstreamError) -> JSONResponse:
        # The owning service's refusal, passed on in its own words; its outage is a 502.
        return problem(error.answer_status, error.code, f"{error.service}: {error.detail}")

    return app
