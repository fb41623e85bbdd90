"""The bare pipeline beside the whole loop: the loop's shape and I/O with none of its logic.

    python bench/e2e/bare.py intake|dispatch|replies

Three processes, each the minimum of one stage, with the services' guarantees (quorum queues,
persistent messages, mandatory publishing with confirms, journaled writes, the services'
prefetch):
- `intake`: an HTTP server; per report one insert and one confirmed publish (`report.received`);
- `dispatch`: consumes the reports; per report one insert and one confirmed publish of a work
  order to the department's queue (by the catalogue's category → department);
- `replies`: consumes the departments' replies; per reply one insert.
The benchmark plays the departments (it reads their queues and replies) and the residents.
Each process counts its database commands with the services' own listener and serves them at
`/metrics` on `METRICS_PORT`, as the services do.

Environment: RABBITMQ_URL, MONGODB_URL, MONGODB_DATABASE, METRICS_PORT, HTTP_PORT (intake),
PREFETCH (the consumers).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import uvicorn
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, start_http_server

from gridloop_common.catalogue import CATEGORIES_BY_CODE
from gridloop_common.metrics import DatabaseCommands
from gridloop_common.mongo import Collection, create_client

EVENTS = "bare.events"
ORDERS = "bare.orders"
REPLIES = "bare.replies"
DISPATCH_INBOX = "bare.dispatch.inbox"
REPLIES_INBOX = "bare.replies.inbox"
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


def department_queue(code: str) -> str:
    return f"bare.dept.{code}.orders"


async def declare(channel: AbstractChannel, departments: list[str]) -> None:
    """Every exchange and queue of the bare pipeline (the benchmark declares them first)."""
    for name in (EVENTS, ORDERS, REPLIES):
        await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    inbox = await channel.declare_queue(DISPATCH_INBOX, durable=True, arguments=QUORUM)
    await inbox.bind(EVENTS, "report.received.#")
    replies = await channel.declare_queue(REPLIES_INBOX, durable=True, arguments=QUORUM)
    await replies.bind(REPLIES, "#")
    for code in departments:
        queue = await channel.declare_queue(department_queue(code), durable=True, arguments=QUORUM)
        await queue.bind(ORDERS, code)


def persistent(body: dict[str, Any], message_id: str) -> aio_pika.Message:
    return aio_pika.Message(
        json.dumps(body).encode(),
        message_id=message_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def database(stage: str) -> Callable[[str], Collection]:
    """The stage's collections, on a client that counts its commands (served at /metrics)."""
    registry = CollectorRegistry()
    client = create_client(
        os.environ["MONGODB_URL"], listeners=[DatabaseCommands(f"bare-{stage}", registry)]
    )
    start_http_server(int(os.environ["METRICS_PORT"]), addr="127.0.0.1", registry=registry)
    named = client[os.environ["MONGODB_DATABASE"]]
    return lambda name: named[name]


def intake_app() -> FastAPI:
    collection = database("intake")
    held: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        connection = await aio_pika.connect_robust(os.environ["RABBITMQ_URL"])
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        held["events"] = await channel.get_exchange(EVENTS)
        yield
        await connection.close()

    app = FastAPI(lifespan=lifespan)
    reports = collection("reports")

    @app.post("/v1/reports", status_code=202)
    async def report(request: Request) -> JSONResponse:
        body = await request.json()
        report_id = "R-" + uuid.uuid4().hex[:16]
        await reports.insert_one({"_id": report_id, **body, "received_at": time.time()})
        data = {"report_id": report_id, "category_code": body["category_code"]}
        events: AbstractExchange = held["events"]
        await events.publish(
            persistent({"data": data}, report_id),
            routing_key="report.received.native",
            mandatory=True,
        )
        return JSONResponse({"report_id": report_id}, status_code=202)

    return app


async def consume(
    queue_name: str, handle: Callable[[dict[str, Any], AbstractExchange], Awaitable[None]]
) -> None:
    """Consume `queue_name` with the services' prefetch, publishing on a confirmed channel."""
    connection = await aio_pika.connect_robust(os.environ["RABBITMQ_URL"])
    consuming = await connection.channel()
    await consuming.set_qos(prefetch_count=int(os.environ.get("PREFETCH", "64")))
    publishing = await connection.channel(publisher_confirms=True, on_return_raises=True)
    orders = await publishing.get_exchange(ORDERS)
    queue = await consuming.get_queue(queue_name)

    async def on_message(message: AbstractIncomingMessage) -> None:
        await handle(json.loads(message.body)["data"], orders)
        await message.ack()

    await queue.consume(on_message)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await connection.close()


async def dispatch() -> None:
    cases = database("dispatch")("cases")

    async def route(data: dict[str, Any], orders: AbstractExchange) -> None:
        department = CATEGORIES_BY_CODE[data["category_code"]].department
        report_id = data["report_id"]
        await cases.insert_one({"_id": report_id, "department": department, **data})
        order = {"data": {"report_id": report_id, "department": department}}
        await orders.publish(persistent(order, report_id), routing_key=department, mandatory=True)

    await consume(DISPATCH_INBOX, route)


async def replies() -> None:
    stored = database("replies")("replies")

    async def store(data: dict[str, Any], _: AbstractExchange) -> None:
        await stored.insert_one({"_id": data["report_id"], **data, "stored_at": time.time()})

    await consume(REPLIES_INBOX, store)


def main(stage: str) -> None:
    if stage == "intake":
        port = int(os.environ["HTTP_PORT"])
        uvicorn.run(
            intake_app(), host="127.0.0.1", port=port, access_log=False, log_level="warning"
        )
    elif stage == "dispatch":
        asyncio.run(dispatch())
    elif stage == "replies":
        asyncio.run(replies())
    else:
        raise SystemExit(f"not a stage of the bare pipeline: {stage!r} (intake|dispatch|replies)")


if __name__ == "__main__":
    main(sys.argv[1])
