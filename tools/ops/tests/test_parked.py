"""`gridloop-ops parked` against the real broker: list by reason, show one, replay chosen ones
back into the inbox (each once, handled after the fix), purge only after confirmation."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from rich.console import Console

from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import (
    Consumer,
    Delivery,
    PermanentError,
    Publisher,
    Subscription,
    envelope,
)
from gridloop_common.messaging.parked import peek
from gridloop_common.messaging.topology import dead_queue, declare_inbox
from gridloop_common.metrics import ServiceMetrics
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_ops import parked

pytestmark = pytest.mark.integration
SERVICE = "dispatch"  # any service name the command knows; nothing else of dispatch runs


def accepted(order_id: str) -> CaseAccepted:
    return CaseAccepted(
        case_id=f"case-{order_id}",
        order_id=order_id,
        department="city-mgmt",
        category_code="road-damage",
        grid_id="grd-xijin-001-01",
        accepted_at=datetime.now(UTC),
    )


def command(*words: str) -> argparse.Namespace:
    top = argparse.ArgumentParser()
    parked.add_commands(top.add_subparsers(dest="command"))
    return top.parse_args(["parked", *words])


async def ops(isolated: Isolated, *words: str, answer: str = "") -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, width=200)
    code = await parked.run(command(*words), isolated.rabbitmq_url, console, lambda _: answer)
    return code, out.getvalue()


async def test_list_show_replay_and_purge_parked_messages(
    amqp: AbstractChannel, isolated: Isolated
) -> None:
    fixed = False
    handled: list[str] = []

    async def handler(event: CaseAccepted, delivery: Delivery) -> None:
        if event.order_id.startswith("bad") and not fixed:
            raise PermanentError(f"not_your_order: {event.order_id} belongs to another unit")
        handled.append(event.order_id)

    subscription = Subscription(CaseAccepted, handler)
    queue = await declare_inbox(amqp, SERVICE, subscription.all_bindings(), (50,), 5)
    consumer = Consumer(
        service=SERVICE,
        queue=queue,
        publisher=Publisher(amqp, app_id=SERVICE),
        subscriptions=[subscription],
        retry_delays_ms=(50,),
        metrics=ServiceMetrics(SERVICE),
    )
    await consumer.start()
    try:
        publisher = Publisher(amqp, app_id="test")
        for order in ("bad-1", "bad-2", "good-1"):
            await publisher.publish(envelope(accepted(order), source="t", time=datetime.now(UTC)))
        events = await amqp.get_exchange("gridloop.events")
        await events.publish(aio_pika.Message(b"{broken"), routing_key="case.accepted.x")

        async def three_parked() -> bool:
            return len(await peek(amqp, SERVICE)) == 3

        await eventually(three_parked, what="three parked messages")

        code, listing = await ops(isolated, "list", "--service", SERVICE)
        assert code == 0
        assert "2 x not_your_order" in listing
        assert "1 x invalid message" in listing
        assert len(await peek(amqp, SERVICE)) == 3, "listing leaves the messages parked"

        first = (await peek(amqp, SERVICE))[0]
        code, shown = await ops(isolated, "show", "--service", SERVICE, first.message_id)
        assert code == 0 and first.reason in shown and first.message_id in shown

        code, _ = await ops(isolated, "replay", "--service", SERVICE)
        assert code == 2, "replay without saying which messages does nothing"

        fixed = True  # the handler's fault is mended: replay what it refused
        code, said = await ops(
            isolated, "replay", "--service", SERVICE, "--reason", "not_your_order"
        )
        assert code == 0 and "replayed 2" in said

        async def replayed_handled() -> bool:
            return sorted(h for h in handled if h.startswith("bad")) == ["bad-1", "bad-2"]

        await eventually(replayed_handled, what="both replayed messages handled")
        await asyncio.sleep(0.3)
        assert sorted(handled) == ["bad-1", "bad-2", "good-1"], "each replayed once"
        [left] = await peek(amqp, SERVICE)
        assert left.reason.startswith("invalid message")

        code, said = await ops(isolated, "purge", "--service", SERVICE, "--all", answer="no")
        assert code == 1 and "nothing removed" in said
        assert len(await peek(amqp, SERVICE)) == 1
        code, said = await ops(isolated, "purge", "--service", SERVICE, "--all", answer=SERVICE)
        assert code == 0 and "removed 1" in said
        assert await peek(amqp, SERVICE) == []
    finally:
        await consumer.stop()


async def test_a_message_the_broker_dead_lettered_says_so_before_why_it_had_waited(
    amqp: AbstractChannel,
) -> None:
    """The broker's x-delivery-limit parks a message without our headers' say; one that waited in
    a retry tier before still carries the wait's reason, which must not pass for the parking's."""
    await declare_inbox(amqp, SERVICE, [], (50,), 5)
    doomed = await amqp.declare_queue(
        "probe.limited",
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": 1,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": f"{SERVICE}.dead",
        },
    )
    waited = "gridloop_notify.handlers.ReplyAddressUnknown: no report.received seen yet"
    await amqp.default_exchange.publish(
        aio_pika.Message(b"{}", message_id="m-1", headers={"x-gridloop-reason": waited}),
        routing_key=doomed.name,
    )

    async def returned_past_its_limit() -> bool:
        message = await doomed.get(fail=False)
        if message is not None:
            await message.nack(requeue=True)
        return len(await peek(amqp, SERVICE)) == 1

    await eventually(returned_past_its_limit, what="the broker dead-letters it")
    [message] = await peek(amqp, SERVICE)
    assert message.reason.startswith(
        "dead-lettered by the broker: delivery_limit (in probe.limited)"
    )
    assert message.reason.endswith(f"it had waited: {waited}")


async def test_a_parked_message_outlasts_more_looks_than_rabbitmq_4s_default_delivery_limit(
    amqp: AbstractChannel, isolated: Isolated
) -> None:
    # Each look takes the message and gives it back (a delivery). RabbitMQ 4 would drop it
    # after 20 on a quorum queue that states no limit; the parking queue states one.
    await declare_inbox(amqp, SERVICE, [], (50,), 5)
    outgoing = envelope(accepted("looked-at"), source="test", time=datetime.now(UTC))
    await Publisher(amqp, app_id="test").publish(
        dataclasses.replace(outgoing, exchange="", routing_key=dead_queue(SERVICE))
    )
    for _ in range(25):
        [message] = await peek(amqp, SERVICE)
        assert message.type == "org.gridloop.case.accepted.v1"
    # Stated, not left to the broker's default (3.10 has none): a declaration without it is
    # refused as inequivalent.
    async with await aio_pika.connect(isolated.rabbitmq_url) as connection:
        other = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed, match="x-delivery-limit"):
            await other.declare_queue(
                dead_queue(SERVICE), durable=True, arguments={"x-queue-type": "quorum"}
            )
