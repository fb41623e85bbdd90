"""A monitor: its own durable queue bound to `sla.#`, as the README tells monitors to do."""

from __future__ import annotations

import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import TypeAdapter

from gridloop_common.contracts.base import EVENTS_EXCHANGE
from gridloop_simulator.record import Record, SlaHeard

_EVENT = TypeAdapter(dict)


class Monitor:
    def __init__(
        self, amqp_url: str, record: Record, *, queue: str = "monitor.simulator.sla"
    ) -> None:
        self._url = amqp_url
        self._record = record
        self._queue_name = queue
        self._connection: AbstractRobustConnection | None = None
        self.last_heard_at: float | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, client_properties={"connection_name": "simulated monitor"}
        )
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=500)
        queue = await channel.declare_queue(
            self._queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(EVENTS_EXCHANGE, "sla.#")
        await queue.consume(self._on_event)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        event = _EVENT.validate_json(message.body)
        data = event["data"]
        self._record.sla_heard(
            SlaHeard(
                event_id=event["id"],
                type=event["type"],
                routing_key=message.routing_key or "",
                order_id=data.get("order_id", ""),
                case_id=data.get("case_id", ""),
                clock=data.get("clock", ""),
                department=data.get("department", ""),
                deadline=str(data.get("deadline", "")),
                received_at=time.time(),
            )
        )
        self.last_heard_at = time.time()
        await message.ack()
