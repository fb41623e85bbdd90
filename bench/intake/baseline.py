"""The bare baseline: FastAPI + uvicorn doing one insert and one confirmed publish per request."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import aio_pika
import uvicorn
from aio_pika.abc import AbstractExchange
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient

EXCHANGE = "gridloop.events"


def create_app(rabbitmq_url: str, mongodb_url: str, database: str) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
        connection = await aio_pika.connect_robust(rabbitmq_url)
        # The same publishing guarantees as intake's relay: confirms, mandatory, persistent.
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        state["exchange"] = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        state["reports"] = mongo[database]["reports"]
        yield
        await connection.close()
        await mongo.close()

    app = FastAPI(lifespan=lifespan)

    async def store_and_publish(payload: dict[str, Any], channel: str) -> str:
        report_id = "B-" + uuid.uuid4().hex[:16]
        await state["reports"].insert_one(
            {"_id": report_id, "payload": payload, "at": datetime.now(UTC)}
        )
        exchange: AbstractExchange = state["exchange"]
        await exchange.publish(
            aio_pika.Message(
                body=report_id.encode(),
                message_id=report_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"report.received.{channel}",
            mandatory=True,
        )
        return report_id

    @app.post("/v1/reports", status_code=202)
    async def json_report(request: Request) -> JSONResponse:
        report_id = await store_and_publish(await request.json(), "native")
        return JSONResponse({"report_id": report_id}, status_code=202)

    @app.post("/open311/v2/requests.json", status_code=201)
    async def form_report(request: Request) -> JSONResponse:
        payload = dict(parse_qsl((await request.body()).decode()))
        report_id = await store_and_publish(payload, "open311")
        return JSONResponse([{"service_request_id": report_id}], status_code=201)

    return app


def main() -> None:
    app = create_app(
        os.environ["RABBITMQ_URL"], os.environ["MONGODB_URL"], os.environ["MONGODB_DATABASE"]
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["HTTP_PORT"]),
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
