"""The bare baseline: consume a report, insert one document, publish one confirmed work order.

    python bench/dispatch/baseline.py AMQP_URL MONGODB_URL DATABASE PREFETCH

Everything dispatch does minus dispatch: no rules lookup, no case aggregate, no outbox, no
events; the same broker guarantees (quorum queues, persistent, mandatory, publisher confirms).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pymongo import AsyncMongoClient

from gridloop_common.catalogue import CATEGORIES_BY_CODE

EVENTS = "bench.events"
ORDERS = "bench.orders"
INBOX = "bench.baseline.inbox"


async def main(amqp_url: str, mongodb_url: str, database: str, prefetch: int) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    reports = mongo[database]["reports"]
    connection = await aio_pika.connect_robust(amqp_url)
    consuming = await connection.channel()
    await consuming.set_qos(prefetch_count=prefetch)
    publishing = await connection.channel(publisher_confirms=True, on_return_raises=True)
    orders = await publishing.get_exchange(ORDERS)
    inbox = await consuming.declare_queue(INBOX, durable=True, arguments={"x-queue-type": "quorum"})
    await inbox.bind(EVENTS, "report.received.#")

    async def on_message(message: AbstractIncomingMessage) -> None:
        data = json.loads(message.body)["data"]
        department = CATEGORIES_BY_CODE[data["category_code"]].department
        await reports.insert_one({"_id": data["report_id"], **data})
        order = {"data": {"reference": data["report_id"], "department": department}}
        await orders.publish(
            aio_pika.Message(
                json.dumps(order).encode(),
                message_id=data["report_id"],
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=department,
            mandatory=True,
        )
        await message.ack()

    await inbox.consume(on_message)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await connection.close()
    await mongo.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
