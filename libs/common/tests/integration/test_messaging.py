"""The messaging layer against the real broker: confirms, mandatory routing, retry and parking."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import (
    REASON_HEADER,
    Consumer,
    Delivery,
    NotYet,
    PermanentError,
    Publisher,
    PublishFailed,
    Subscription,
    dead_queue,
    envelope,
    inbox_queue,
)
from gridloop_common.messaging.topology import declare_inbox
from gridloop_common.metrics import ServiceMetrics
from gridloop_common.testing.polling import eventually

pytestmark = pytest.mark.integration


def accepted(order: str) -> CaseAccepted:
    return CaseAccepted(
        case_id=f"case-{order}",
        order_id=order,
        department="city-mgmt",
        category_code="road-damage",
        grid_id="g1",
        accepted_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )


async def test_unroutable_mandatory_message_raises(amqp: AbstractChannel) -> None:
    publisher = Publisher(amqp, app_id="test")
    outgoing = envelope(accepted("o1"), source="test", time=datetime.now(UTC))
    with pytest.raises(PublishFailed, match=r"case\.accepted\.city-mgmt"):
        await publisher.publish(outgoing)


class DatabaseAway(Exception):
    """Stands for pymongo's ConnectionFailure: the consumer is told which errors are outages."""


async def _run_consumer(
    amqp: AbstractChannel,
    handler: object,
    delays: tuple[int, ...] = (50, 50),
    recovered: Callable[[], Awaitable[bool]] | None = None,
    patience_seconds: float = 300.0,
) -> Consumer:
    queue = await declare_inbox(
        amqp,
        "probe",
        Subscription(CaseAccepted, handler).all_bindings(),
        delays,
        5,  # type: ignore[arg-type]
    )
    consumer = Consumer(
        service="probe",
        queue=queue,
        publisher=Publisher(amqp, app_id="probe"),
        subscriptions=[Subscription(CaseAccepted, handler)],  # type: ignore[arg-type]
        retry_delays_ms=delays,
        metrics=ServiceMetrics("probe"),
        is_outage=lambda error: isinstance(error, DatabaseAway),
        recovered=recovered,
        patience_seconds=patience_seconds,
    )
    await consumer.start()
    return consumer


async def test_an_outage_longer_than_the_retry_tiers_parks_nothing(amqp: AbstractChannel) -> None:
    attempts: list[int] = []

    async def waits_for_the_database(event: CaseAccepted, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) <= 6:  # three times the two tiers: a failure would have parked it
            raise DatabaseAway("127.0.0.1:27017: connection refused")

    consumer = await _run_consumer(amqp, waits_for_the_database)
    await Publisher(amqp, "t").publish(envelope(accepted("o9"), source="t", time=datetime.now(UTC)))
    await eventually(lambda: asyncio.sleep(0, len(attempts) >= 7), what="handled after the outage")
    await consumer.stop()
    assert attempts == [1] * 7, "waiting for the database spends no attempt"
    assert await (await amqp.get_queue(dead_queue("probe"))).get(fail=False) is None


async def test_a_message_waiting_for_an_earlier_one_spends_its_patience_once(
    amqp: AbstractChannel,
) -> None:
    """While patient it waits without spending attempts; once patience is spent its attempts
    count, and the last one is marked so the handler decides without the earlier message (the
    retries must not start the patience again: the message would wait it out once per tier)."""
    seen: list[tuple[int, bool]] = []

    async def waits_for_the_report(event: CaseAccepted, delivery: Delivery) -> None:
        seen.append((delivery.attempt, delivery.last_attempt))
        if not delivery.last_attempt:
            raise NotYet("no report.received seen yet")

    consumer = await _run_consumer(amqp, waits_for_the_report, patience_seconds=0.3)
    await Publisher(amqp, "t").publish(envelope(accepted("o8"), source="t", time=datetime.now(UTC)))
    await eventually(lambda: asyncio.sleep(0, any(last for _, last in seen)), what="last attempt")
    await consumer.stop()
    waits = [attempt for attempt, _ in seen[:-2]]
    assert waits and set(waits) == {1}, "waiting spends no attempt"
    assert seen[-2:] == [(2, False), (3, True)], "after patience: one retry per tier, then decide"
    assert await (await amqp.get_queue(dead_queue("probe"))).get(fail=False) is None


async def test_handler_failure_is_retried_then_succeeds(amqp: AbstractChannel) -> None:
    attempts: list[int] = []

    async def flaky(event: CaseAccepted, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) < 3:
            raise RuntimeError("database hiccup")

    consumer = await _run_consumer(amqp, flaky)
    await Publisher(amqp, "t").publish(envelope(accepted("o2"), source="t", time=datetime.now(UTC)))
    await eventually(lambda: asyncio.sleep(0, len(attempts) >= 3), what="three attempts")
    await consumer.stop()
    assert attempts == [1, 2, 3]


async def test_exhausted_retries_park_with_the_reason_and_original_routing_key(
    amqp: AbstractChannel,
) -> None:
    async def broken(event: CaseAccepted, delivery: Delivery) -> None:
        raise RuntimeError("cannot store the fact")

    consumer = await _run_consumer(amqp, broken)
    await Publisher(amqp, "t").publish(envelope(accepted("o3"), source="t", time=datetime.now(UTC)))
    dead = await amqp.get_queue(dead_queue("probe"))

    async def parked() -> aio_pika.abc.AbstractIncomingMessage | None:
        return await dead.get(fail=False)

    message = await eventually(parked, what="a parked message")
    await consumer.stop()
    headers = message.headers or {}
    assert "cannot store the fact" in str(headers[REASON_HEADER])
    assert headers["x-gridloop-original-routing-key"] == "case.accepted.city-mgmt"
    assert headers["x-gridloop-attempt"] == "3"
    assert json.loads(message.body)["data"]["order_id"] == "o3"


async def test_origin_headers_a_sender_forges_are_not_believed(amqp: AbstractChannel) -> None:
    """Headers claiming another routing key and a late attempt, on a message published to an
    exchange (not come back from the consumer's own retry tier): the broker's word wins."""
    seen: list[tuple[str, str, int]] = []

    async def record(event: CaseAccepted, delivery: Delivery) -> None:
        seen.append((delivery.exchange, delivery.routing_key, delivery.attempt))

    consumer = await _run_consumer(amqp, record)
    outgoing = envelope(accepted("o-forged"), source="t", time=datetime.now(UTC))
    exchange = await amqp.get_exchange(outgoing.exchange, ensure=False)
    await exchange.publish(
        aio_pika.Message(
            outgoing.body,
            content_type="application/cloudevents+json",
            headers={
                "x-gridloop-original-exchange": "gridloop.replies",
                "x-gridloop-original-routing-key": "water.accept",
                "x-gridloop-attempt": "9",
            },
        ),
        routing_key=outgoing.routing_key,
    )
    await eventually(lambda: asyncio.sleep(0, bool(seen)), what="the message handled")
    await consumer.stop()
    assert seen == [("gridloop.events", "case.accepted.city-mgmt", 1)]


async def test_invalid_message_is_parked_at_once_and_the_next_good_one_is_handled(
    amqp: AbstractChannel,
) -> None:
    seen: list[str] = []

    async def record(event: CaseAccepted, delivery: Delivery) -> None:
        seen.append(event.order_id)

    consumer = await _run_consumer(amqp, record)
    events = await amqp.get_exchange("gridloop.events")
    await events.publish(aio_pika.Message(b"{not json"), routing_key="case.accepted.x")
    bad = json.loads(envelope(accepted("o4"), source="t", time=datetime.now(UTC)).body)
    del bad["data"]["order_id"]
    await events.publish(aio_pika.Message(json.dumps(bad).encode()), routing_key="case.accepted.x")
    await Publisher(amqp, "t").publish(envelope(accepted("o5"), source="t", time=datetime.now(UTC)))

    await eventually(lambda: asyncio.sleep(0, seen == ["o5"]), what="the good message")
    dead = await amqp.get_queue(dead_queue("probe"))
    reasons = []
    for _ in range(2):
        message = await eventually(lambda: dead.get(fail=False), what="parked message")
        await message.ack()
        reasons.append(str((message.headers or {})[REASON_HEADER]))
    await consumer.stop()
    assert any("invalid message" in r and "Invalid JSON" in r for r in reasons)
    assert any("data.order_id" not in r and "order_id: Field required" in r for r in reasons)
    inbox = await amqp.get_queue(inbox_queue("probe"))
    assert inbox.declaration_result.message_count == 0


async def test_permanent_error_parks_without_retry(amqp: AbstractChannel) -> None:
    attempts: list[int] = []

    async def refuse(event: CaseAccepted, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise PermanentError("order o6 belongs to another department")

    consumer = await _run_consumer(amqp, refuse)
    await Publisher(amqp, "t").publish(envelope(accepted("o6"), source="t", time=datetime.now(UTC)))
    dead = await amqp.get_queue(dead_queue("probe"))
    message = await eventually(lambda: dead.get(fail=False), what="parked message")
    await consumer.stop()
    assert attempts == [1]
    assert "another department" in str((message.headers or {})[REASON_HEADER])


async def test_a_replica_that_lost_its_database_takes_no_more_messages_until_it_is_back(
    amqp: AbstractChannel,
) -> None:
    database_up = False
    handled: list[str] = []

    async def needs_the_database(event: CaseAccepted, delivery: Delivery) -> None:
        if not database_up:
            raise DatabaseAway("127.0.0.1:27017: connection refused")
        handled.append(event.order_id)

    async def recovered() -> bool:
        return database_up

    consumer = await _run_consumer(amqp, needs_the_database, recovered=recovered)
    publisher = Publisher(amqp, "t")
    await publisher.publish(envelope(accepted("first"), source="t", time=datetime.now(UTC)))
    await asyncio.sleep(0.5)  # the first failed: the consumer sits the outage out
    await publisher.publish(envelope(accepted("second"), source="t", time=datetime.now(UTC)))
    underlay = await amqp.get_underlay_channel()  # the robust channel answers from memory

    async def second_waits_in_the_inbox() -> bool:
        declared = await underlay.queue_declare(inbox_queue("probe"), passive=True)
        return (declared.message_count or 0) >= 1

    await eventually(second_waits_in_the_inbox, what="the next message left for others")
    database_up = True
    await eventually(
        lambda: asyncio.sleep(0, sorted(handled) == ["first", "second"]), what="both handled"
    )
    await consumer.stop()


async def test_a_delivery_in_hand_is_told_by_its_event_time_until_it_is_acknowledged(
    amqp: AbstractChannel,
) -> None:
    """The broker counts a delivery being handled as unacknowledged, not as waiting: the
    consumer itself says which event times it holds (sla-monitor's verdicts wait on them)."""
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(event: CaseAccepted, delivery: Delivery) -> None:
        started.set()
        await release.wait()

    consumer = await _run_consumer(amqp, slow)
    assert consumer.holding_since() is None
    earlier = datetime(2026, 12, 7, 8, 0, 1, tzinfo=UTC)
    later = datetime(2026, 12, 7, 8, 0, 2, tzinfo=UTC)
    publisher = Publisher(amqp, "t")
    await publisher.publish(envelope(accepted("o20"), source="t", time=later))
    await publisher.publish(envelope(accepted("o21"), source="t", time=earlier))
    await asyncio.wait_for(started.wait(), 10)
    await eventually(
        lambda: asyncio.sleep(0, consumer.holding_since() == earlier), what="both in hand"
    )
    release.set()
    await eventually(lambda: asyncio.sleep(0, consumer.holding_since() is None), what="released")
    await consumer.stop()
