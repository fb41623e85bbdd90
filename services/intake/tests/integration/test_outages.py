"""intake keeps accepting reports while the broker is down, and answers 503 when the DB is."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from services.intake.tests.integration.conftest import intake_settings

from gridloop_common.registry import load_registry
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.secantus import free_port, start_stand_in
from gridloop_common.testing.tcp_proxy import TcpProxy
from gridloop_intake.app import create_app
from gridloop_intake.bootstrap import IntakeDeps

pytestmark = pytest.mark.integration

GRID = load_registry().grids[0]
REPORT = {"grid_id": GRID.id, "category_code": "garbage", "description": "垃圾堆了一周"}


async def test_reports_taken_while_the_broker_is_down_are_published_when_it_returns(
    isolated: Isolated, amqp: AbstractChannel
) -> None:
    events = await amqp.declare_queue(exclusive=True)
    await events.bind("gridloop.events", "report.#")
    broker = urlsplit(isolated.rabbitmq_url)
    proxy = TcpProxy(free_port(), broker.hostname or "127.0.0.1", broker.port or 5672)
    # Intake is pointed at a port where, for now, no broker listens.
    via_proxy = urlunsplit(broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.listen_port}"))
    app = create_app(intake_settings(isolated, rabbitmq_url=via_proxy))
    deps: IntakeDeps = app.state.deps
    await deps.runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake"
        ) as client:
            accepted = await client.post("/v1/reports", json=REPORT)
            assert accepted.status_code == 202
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"broker": False, "database": True}
            assert await events.get(fail=False) is None

            await proxy.start()  # the broker "comes back"
            message = await eventually(
                lambda: events.get(fail=False, no_ack=True), timeout=30, what="the late event"
            )
            assert json.loads(message.body)["data"]["report_id"] == accepted.json()["report_id"]

            async def ready_again() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready_again, what="readiness once the broker is back")
    finally:
        await deps.runtime.stop()
        await proxy.stop()


async def test_with_the_database_gone_a_report_gets_503_with_retry_after(
    isolated: Isolated,
) -> None:
    mongo = start_stand_in()
    app = create_app(intake_settings(isolated, mongodb_url=mongo.url, mongodb_timeout_ms=500))
    deps: IntakeDeps = app.state.deps
    await deps.runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake"
        ) as client:
            assert (await client.post("/v1/reports", json=REPORT)).status_code == 202
            mongo.process.kill()
            mongo.process.wait()
            response = await client.post("/v1/reports", json=REPORT)
            assert response.status_code == 503
            assert response.headers["Retry-After"].isdigit()
            assert response.json()["code"] == "database_unavailable"
    finally:
        await deps.runtime.stop()
        mongo.stop()
