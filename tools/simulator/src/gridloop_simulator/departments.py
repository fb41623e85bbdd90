"""City departments: each reads its own order queue with its own broker user and replies.

A department system drops a repeated order message (same message id) and follows each order's
story (stories.py): replies over AMQP on `gridloop.replies` under its own code, or over HTTP
with its API key. A reply is sent until the broker confirms it (AMQP) or dispatch answers
(HTTP), always with the same id, so a repeat after an outage is recognised and applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pydantic import TypeAdapter

from gridloop_common.contracts import (
    AcceptOrder,
    CompleteOrder,
    OrderReply,
    RejectOrder,
    ReportProgress,
    RequestExtension,
)
from gridloop_common.envelope import CONTENT_TYPE, derived_id
from gridloop_common.messaging.outgoing import envelope
from gridloop_common.messaging.topology import department_queue
from gridloop_simulator.amqp import Subscriber
from gridloop_simulator.config import Departments
from gridloop_simulator.http import ServiceClient
from gridloop_simulator.record import OrderSeen, Record, ReplySent
from gridloop_simulator.stories import Step, story_for, wall_delay

REPLIES: dict[str, type[OrderReply]] = {
    "accept": AcceptOrder,
    "reject": RejectOrder,
    "progress": ReportProgress,
    "complete": CompleteOrder,
    "request-extension": RequestExtension,
}
# A reply dispatch refuses because an earlier reply of the same order is still on its way
# (e.g. a progress over HTTP overtaking an accept over AMQP) is asked again this often.
ILLEGAL_RETRIES = 12
GIVE_UP_AFTER_SECONDS = 300.0
_JSON = TypeAdapter(dict[str, Any])


class Department:
    def __init__(
        self,
        code: str,
        *,
        amqp_url: str,
        api_key: str,
        dispatch: ServiceClient,
        record: Record,
        shares: Departments,
        seed: int,
    ) -> None:
        self.code = code
        self._api_key = api_key
        self._dispatch = dispatch
        self._record = record
        self._shares = shares
        self._rng = random.Random(f"{seed}:{code}")
        self._subscriber = Subscriber(
            amqp_url,
            f"simulated department {code}",
            self._queue,
            self._on_order,
            prefetch=500,
        )
        self._stories: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        """Orders whose story has not ended yet."""
        return len(self._stories)

    async def _queue(self, channel: AbstractChannel) -> AbstractQueue:
        # Only its own queue, which it may read but not declare: look it up.
        return await channel.get_queue(department_queue(self.code))

    async def start(self) -> None:
        await self._subscriber.start()

    async def stop(self) -> None:
        for task in self._stories:
            task.cancel()
        await asyncio.gather(*self._stories, return_exceptions=True)
        await self._subscriber.stop()

    async def _on_order(self, message: AbstractIncomingMessage) -> None:
        envelope_ = _JSON.validate_json(message.body)
        order = envelope_["data"]
        seen = OrderSeen(
            order_id=order["order_id"],
            case_id=order["case_id"],
            department=self.code,
            message_id=message.message_id or envelope_["id"],
            received_at=time.time(),
            dispatched_at=order["dispatched_at"],
            accept_by=order["accept_by"],
            complete_by=order["complete_by"],
            dispatch_reason=order.get("dispatch_reason"),
            previous_order_id=order.get("previous_order_id"),
        )
        first = self._record.order_seen(seen) is seen
        # Acked once its story is in hand: a department that crashed would see it again.
        await message.ack()
        if first:
            steps = story_for(
                order,
                self._shares,
                self._rng,
                can_reject=order.get("dispatch_reason") != "fallback",
            )
            task = asyncio.create_task(self._follow(order["order_id"], steps))
            self._stories.add(task)
            task.add_done_callback(self._stories.discard)

    async def _follow(self, order_id: str, steps: Sequence[Step]) -> None:
        for step in steps:
            await asyncio.sleep(wall_delay(step.at, datetime.now(UTC)))
            reply = REPLIES[step.action].model_validate(
                {"order_id": order_id, "department": self.code, **step.data}
            )
            reply_id = derived_id("simulator.reply", order_id, step.action, str(step.at))
            sent = ReplySent(
                reply_id=reply_id,
                order_id=order_id,
                department=self.code,
                action=step.action,
                via=step.via,
                sent_at=time.time(),
            )
            self._record.replies.append(sent)
            self._record.counters[f"replies_{step.action}"] += 1
            if step.via == "http":
                await self._reply_over_http(sent, step)
            else:
                await self._reply_over_amqp(sent, reply)

    async def _reply_over_amqp(self, sent: ReplySent, reply: OrderReply) -> None:
        outgoing = envelope(
            reply, source=f"dept/{self.code}", time=datetime.now(UTC), event_id=sent.reply_id
        )
        message = aio_pika.Message(
            outgoing.body,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=sent.reply_id,
        )
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        delay = 0.2
        while True:
            sent.attempts += 1
            try:
                channel = self._subscriber.channel
                if channel is None:
                    raise ConnectionError("not connected")
                exchange = await channel.get_exchange(outgoing.exchange, ensure=False)
                await exchange.publish(message, routing_key=outgoing.routing_key, mandatory=True)
            except Exception as error:  # the broker is away: the subscriber reconnects
                sent.error = type(error).__name__
                if time.monotonic() > deadline:
                    self._record.counters["replies_given_up"] += 1
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            sent.confirmed_at = time.time()
            return

    async def _reply_over_http(self, sent: ReplySent, step: Step) -> None:
        headers = {"X-Api-Key": self._api_key, "Idempotency-Key": sent.reply_id}
        for _ in range(ILLEGAL_RETRIES):
            sent.attempts += 1
            answer = await self._dispatch.request(
                "POST",
                f"/v1/orders/{sent.order_id}/{step.action}",
                json=step.data,
                headers=headers,
            )
            sent.http_status = answer.status
            if answer.response is None:
                sent.error = answer.error
                self._record.counters["replies_given_up"] += 1
                return
            if answer.status == 409 and _overtaken(answer.response.json()):
                await asyncio.sleep(1.0)
                continue
            if answer.status != 200:
                sent.error = answer.response.text[:300]
            else:
                sent.confirmed_at = time.time()
            return


def _overtaken(problem: Any) -> bool:
    """Dispatch still holds the order as dispatched: our own accept has not arrived yet."""
    return (
        isinstance(problem, dict)
        and problem.get("code") == "illegal_transition"
        and problem.get("current_status") == "dispatched"
    )


async def start_departments(departments: Sequence[Department]) -> None:
    """Log every department in; one that cannot log in stops the simulation with its name."""
    results = await asyncio.gather(*(d.start() for d in departments), return_exceptions=True)
    failures = [
        f"{d.code}: {r}"
        for d, r in zip(departments, results, strict=True)
        if isinstance(r, BaseException)
    ]
    if failures:
        for department in departments:
            with contextlib.suppress(Exception):
                await department.stop()
        raise RuntimeError("departments could not log in: " + "; ".join(failures))
