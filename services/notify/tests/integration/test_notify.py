"""notify against the real broker and database, posting to a webhook sink run by the test."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel
from fastapi import FastAPI

from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import Outgoing, Publisher, dead_queue, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Client, Document
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_notify.app import create_app
from gridloop_notify.bootstrap import NotifyDeps
from gridloop_notify.notices import notice_id
from gridloop_notify.repository import DELIVERIES
from gridloop_notify.settings import NotifySettings

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Sink:
    """A tiny HTTP/1.1 receiver: answers the planned statuses in order, then 200."""

    def __init__(self, statuses: Iterable[int] = (), delay: float = 0.0) -> None:
        self._planned = list(statuses)
        # A slow answer keeps the first send in flight while a duplicate arrives.
        self._delay = delay
        self.requests: list[Recorded] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Sink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/reporter"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def succeeded(self) -> list[Recorded]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, value = line.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self._planned.pop(0) if self._planned else 200
                self.requests.append(Recorded(method, path, headers, body, status))
                await asyncio.sleep(self._delay)
                phrase = HTTPStatus(status).phrase
                writer.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def running_notify(
    isolated: Isolated, webhook_url: str, retry_delays_ms: tuple[int, ...] = (100, 100)
) -> AsyncIterator[tuple[FastAPI, NotifyDeps]]:
    """notify's app with its runtime started directly (ASGI requests skip the lifespan)."""
    settings = NotifySettings(
        rabbitmq_url=isolated.rabbitmq_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("notify"),
        retry_delays_ms=retry_delays_ms,
        notify_reporter_webhook_url=webhook_url,
        notify_webhook_timeout_seconds=5,
    )
    app = create_app(settings)
    deps: NotifyDeps = app.state.deps
    await deps.runtime.start()
    try:
        yield app, deps
    finally:
        await deps.runtime.stop()


@pytest.fixture
async def channel(isolated: Isolated) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect_robust(isolated.rabbitmq_url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await declare_exchanges(channel)
    yield channel
    await connection.close()


def case_accepted() -> tuple[Outgoing, str]:
    """A fresh CaseAccepted envelope and the notice id notify must derive from it."""
    token = uuid.uuid4().hex[:8]
    event = CaseAccepted(
        case_id=f"C-{token}",
        order_id=f"O-{token}",
        department="city-mgmt",
        category_code="road-damage",
        grid_id="g-1",
        report_id=f"R-{token}",
        reporter_id=f"rp-{token}",
        accepted_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )
    outgoing = envelope(event, source="test/dispatch", time=datetime.now(UTC))
    return outgoing, notice_id("case_accepted", outgoing.message_id)


def handled(deps: NotifyDeps) -> float:
    sample = deps.runtime.metrics.registry.get_sample_value(
        "gridloop_messages_total",
        {"service": "notify", "type": CaseAccepted.TYPE, "outcome": "handled"},
    )
    return sample or 0.0


async def delivery(mongo: Client, isolated: Isolated, identifier: str) -> Document | None:
    return await mongo[isolated.database("notify")][DELIVERIES].find_one({"_id": identifier})


async def settled(mongo: Client, isolated: Isolated, identifier: str, status: str) -> Document:
    async def probe() -> Document | None:
        document = await delivery(mongo, isolated, identifier)
        return document if document and document["status"] == status else None

    return await eventually(probe, what=f"delivery {identifier} {status}")


async def test_same_event_published_twice_reaches_the_webhook_once(
    isolated: Isolated, mongo_client: Client, channel: AbstractChannel
) -> None:
    outgoing, expected_id = case_accepted()
    # The duplicate's retry (after 100 ms) finds the send still in flight; the next (1 s) finds
    # it delivered and acks without a second POST.
    async with (
        Sink(delay=0.3) as sink,
        running_notify(isolated, sink.url, retry_delays_ms=(100, 1000)) as (_, deps),
    ):
        publisher = Publisher(channel, app_id="test")
        await asyncio.gather(publisher.publish(outgoing), publisher.publish(outgoing))
        await eventually(lambda: asyncio.sleep(0, handled(deps) >= 2), what="both copies handled")
        record = await settled(mongo_client, isolated, expected_id, "delivered")

    assert len(sink.requests) == 1
    request = sink.requests[0]
    assert (request.method, request.path) == ("POST", "/hooks/reporter")
    assert request.headers["idempotency-key"] == expected_id
    body = json.loads(request.body)
    data = json.loads(outgoing.body)["data"]
    assert body["notice_id"] == expected_id
    assert body["kind"] == "case_accepted"
    assert (body["case_id"], body["report_id"]) == (data["case_id"], data["report_id"])
    assert "市城市管理局" in body["text"]
    assert record["attempts"] == 1
    assert record["delivered_at"] is not None


async def test_a_failed_first_post_is_retried_with_the_same_key_and_delivered_once(
    isolated: Isolated, mongo_client: Client, channel: AbstractChannel
) -> None:
    outgoing, expected_id = case_accepted()
    async with Sink(statuses=[500]) as sink, running_notify(isolated, sink.url):
        await Publisher(channel, app_id="test").publish(outgoing)
        record = await settled(mongo_client, isolated, expected_id, "delivered")

    assert [r.status for r in sink.requests] == [500, 200]
    assert len(sink.succeeded()) == 1
    assert {r.headers["idempotency-key"] for r in sink.requests} == {expected_id}
    assert record["attempts"] >= 2
    assert "HTTP 500" in record["last_error"]


async def test_a_client_error_marks_the_delivery_failed_and_parks_the_event_at_once(
    isolated: Isolated, mongo_client: Client, channel: AbstractChannel
) -> None:
    outgoing, expected_id = case_accepted()
    async with Sink(statuses=[422] * 5) as sink, running_notify(isolated, sink.url):
        await Publisher(channel, app_id="test").publish(outgoing)
        record = await settled(mongo_client, isolated, expected_id, "failed")
        dead = await channel.get_queue(dead_queue("notify"))
        parked = await eventually(lambda: dead.get(fail=False), what="the parked event")
        await parked.ack()

    assert len(sink.requests) == 1
    assert record["attempts"] == 1
    assert "HTTP 422" in record["last_error"]
    assert parked.message_id == outgoing.message_id
    assert "HTTP 422" in str((parked.headers or {})["x-gridloop-reason"])


async def test_without_a_webhook_the_notice_is_recorded_and_served_over_http(
    isolated: Isolated, mongo_client: Client, channel: AbstractChannel
) -> None:
    outgoing, expected_id = case_accepted()
    case_id = json.loads(outgoing.body)["data"]["case_id"]
    async with running_notify(isolated, "") as (app, _):
        await Publisher(channel, app_id="test").publish(outgoing)
        await settled(mongo_client, isolated, expected_id, "skipped")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as api:
            one = await api.get(f"/v1/deliveries/{expected_id}")
            listed = await api.get(f"/v1/cases/{case_id}/deliveries")
            missing = await api.get("/v1/deliveries/no-such-notice")
            no_case = await api.get("/v1/cases/C-none/deliveries")

    assert one.status_code == 200
    assert one.json()["status"] == "skipped"
    assert one.json()["attempts"] == 0
    assert one.json()["channel"] == "none"
    assert one.json()["notice"]["notice_id"] == expected_id
    assert [d["notice_id"] for d in listed.json()["deliveries"]] == [expected_id]
    assert (missing.status_code, missing.json()["code"]) == (404, "delivery_not_found")
    assert (no_case.status_code, no_case.json()["code"]) == (404, "case_has_no_deliveries")
