"""A monitor: its own durable queue bound to `sla.#`, as the README tells monitors to do."""

from __future__ import annotations

import time
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pydantic import TypeAdapter

from gridloop_common.contracts.base import EVENTS_EXCHANGE
from gridloop_simulator.amqp import Subscriber
from gridloop_simulator.record import Record, SlaHeard

_EVENT = TypeAdapter(dict[str, Any])


class Monitor:
    def __init__(
        self, amqp_url: str, record: Record, *, queue: str = "monitor.simulator.sla"
    ) -> None:
        self._record = record
        self._queue_name = queue
        self._subscriber = Subscriber(
            amqp_url, "simulated monitor", self._queue, self._on_event, prefetch=500
        )
        self.last_heard_at: float | None = None

    async def _queue(self, channel: AbstractChannel) -> AbstractQueue:
        queue = await channel.declare_queue(
            self._queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(EVENTS_EXCHANGE, "sla.#")
        return queue

    async def start(self) -> None:
        await self._subscriber.start()

    async def stop(self) -> None:
        await self._subscriber.stop()

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
