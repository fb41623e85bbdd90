"""notify's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gridloop_common.clock import Clock
from gridloop_common.http import service_app
from gridloop_notify.api import router as notices_router
from gridloop_notify.bootstrap import build_deps
from gridloop_notify.settings import NotifySettings
from gridloop_notify.subscription_api import router as subscriptions_router


def create_app(settings: NotifySettings, clock: Clock | None = None) -> FastAPI:
    deps = build_deps(settings, clock)
    return service_app(
        deps.runtime,
        title="gridloop notify",
        description=(
            "One-click notices to the chat groups and households of an area, reporter feedback "
            "on their own channel, supervisor alerts by subscription; every recipient tracked."
        ),
        deps=deps,
        routers=[notices_router, subscriptions_router],
    )
