"""intake in-process against the real broker and database, with an HTTP client on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from fastapi import FastAPI

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEY_ENV
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.processes import ServiceProcess
from gridloop_common.testing.secantus import free_port
from gridloop_intake.app import create_app
from gridloop_intake.bootstrap import IntakeDeps
from gridloop_intake.settings import IntakeSettings


def intake_settings(isolated: Isolated, **overrides: object) -> IntakeSettings:
    values: dict[str, object] = {
        "rabbitmq_url": isolated.rabbitmq_url,
        "mongodb_url": isolated.mongodb_url,
        "mongodb_database": isolated.database("intake"),
        "outbox_grace_seconds": 0.5,
        "outbox_sweep_interval_seconds": 0.2,
        "retry_delays_ms": (100,),
        "gridloop_open311_api_keys": (API_KEY,),
        **{name.lower(): key for name, key in DEVELOPMENT_CHANNEL_KEY_ENV.items()},
        **overrides,
    }
    return IntakeSettings.model_validate(values)


API_KEY = "test-key"
OPERATOR_KEY = "test-intake-operator-key"


@dataclass
class RunningIntake:
    app: FastAPI
    client: httpx.AsyncClient
    events: AbstractQueue

    @property
    def deps(self) -> IntakeDeps:
        deps: IntakeDeps = self.app.state.deps
        return deps


@pytest.fixture
async def intake(isolated: Isolated, amqp: AbstractChannel) -> AsyncIterator[RunningIntake]:
    # Bound before intake starts, so every report event is routable and captured.
    events = await amqp.declare_queue(exclusive=True)
    await events.bind("gridloop.events", "report.#")
    app = create_app(intake_settings(isolated))
    deps: IntakeDeps = app.state.deps
    await deps.runtime.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield RunningIntake(app, client, events)
    await deps.runtime.stop()


@pytest.fixture
def intake_server(isolated: Isolated, tmp_path: Path) -> Iterator[ServiceProcess]:
    """intake as a real uvicorn process on a free port, for clients that speak only HTTP."""
    server = ServiceProcess(
        name="intake",
        env={
            "RABBITMQ_URL": isolated.rabbitmq_url,
            "MONGODB_URL": isolated.mongodb_url,
            "MONGODB_DATABASE": isolated.database("intake"),
            "OUTBOX_GRACE_SECONDS": "0.5",
            "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.2",
            "RETRY_DELAYS_MS": "100",
            "GRIDLOOP_OPEN311_API_KEYS": f"other-key,{API_KEY}",
            "INTAKE_RATE_LIMIT_EXEMPT_KEYS": API_KEY,
            **DEVELOPMENT_CHANNEL_KEY_ENV,
            "OPERATOR_API_KEY": OPERATOR_KEY,
        },
        log_path=tmp_path / "intake.log",
        port=free_port(),
    )
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
