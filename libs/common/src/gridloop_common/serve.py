"""Console entry point glue: settings from the environment, logging, uvicorn with our loggers."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from gridloop_common.logging import configure_logging
from gridloop_common.settings import ServiceSettings, SettingsT, load_settings


def run_service(
    settings_class: type[SettingsT], create_app: Callable[[SettingsT], FastAPI]
) -> None:
    settings = load_settings(settings_class)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    serve(settings, create_app(settings))


def serve(settings: ServiceSettings, app: FastAPI) -> None:
    # uvicorn turns SIGTERM/SIGINT into a lifespan shutdown, which drains the consumer.
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
