"""The outbox relay against the real broker and database: sent events leave, newer ones stay."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from gridloop_common.clock import SystemClock
from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import Outgoing, Publisher, envelope
from gridloop_common.metrics import ServiceMetrics
from gridloop_common.mongo import IN_LIST_LIMIT, Client, Collection, create_client
from gridloop_common.outbox import PENDING, OutboxRelay, outbox_fields, with_outbox
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def events(amqp: AbstractChannel) -> AbstractQueue:
    queue = await amqp.declare_queue(exclusive=True)
    await queue.bind("gridloop.events", "case.#")
    return queue


def event(order: str) -> Outgoing:
    accepted = CaseAccepted(
        case_id=f"case-{order}",
        order_id=order,
        department="city-mgmt",
        category_code="road-damage",
        grid_id="g1",
        accepted_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )
    return envelope(accepted, source="test", time=datetime.now(UTC))


async def published_ids(queue: AbstractQueue, expected: set[str]) -> set[str]:
    seen: set[str] = set()

    async def all_seen() -> bool:
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            seen.add(json.loads(message.body)["id"])
        return expected <= seen

    await eventually(all_seen, what="every event on the broker")
    return seen


async def settled(documents: Collection, count: int) -> bool:
    done = await documents.count_documents({"outbox": [], PENDING: False})
    return done == count


async def test_a_burst_of_notified_documents_ends_with_every_event_published_and_removed(
    isolated: Isolated, mongo_client: Client, amqp: AbstractChannel, events: AbstractQueue
) -> None:
    documents = mongo_client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=60)
    await relay.start(Publisher(amqp, app_id="test"))
    try:
        outgoings = [event(f"o{n}") for n in range(40)]
        for n, outgoing in enumerate(outgoings):
            await documents.insert_one(
                {"_id": f"d{n}", **outbox_fields([outgoing], datetime.now(UTC))}
            )
            relay.notify(documents, f"d{n}", [outgoing])
        expected = {o.message_id for o in outgoings}
        assert await published_ids(events, expected) == expected
        await eventually(lambda: settled(documents, 40), what="every outbox emptied")
    finally:
        await relay.stop()


async def test_an_event_stored_after_the_notified_one_stays_until_it_is_published(
    isolated: Isolated, mongo_client: Client, amqp: AbstractChannel, events: AbstractQueue
) -> None:
    documents = mongo_client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=0.2, grace_seconds=0)
    first = [event(f"a{n}") for n in range(5)]
    later = [event(f"b{n}") for n in range(5)]
    for n, outgoing in enumerate(first):
        await documents.insert_one({"_id": f"d{n}", **outbox_fields([outgoing], datetime.now(UTC))})
        relay.notify(documents, f"d{n}", [outgoing])
    # Before the relay runs, each document gains a second event its notify did not name.
    for n, outgoing in enumerate(later):
        await documents.update_one(
            {"_id": f"d{n}"}, with_outbox({"$set": {"step": 2}}, [outgoing], datetime.now(UTC))
        )
    await relay.start(Publisher(amqp, app_id="test"))
    try:
        expected = {o.message_id for o in [*first, *later]}
        assert await published_ids(events, expected) >= expected
        await eventually(lambda: settled(documents, 5), what="both events of each removed")
    finally:
        await relay.stop()


async def test_the_sweep_takes_unleased_and_expired_documents_and_leaves_leased_ones(
    isolated: Isolated, mongo_client: Client, amqp: AbstractChannel, events: AbstractQueue
) -> None:
    documents = mongo_client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=60, grace_seconds=0)
    now = datetime.now(UTC)
    leases = {
        "never": None,
        "expired": now - timedelta(minutes=1),
        "held": now + timedelta(hours=1),
    }
    outgoings = {name: event(f"sweep-{name}") for name in leases}
    for name, lease in leases.items():
        document = {"_id": name, **outbox_fields([outgoings[name]], now - timedelta(seconds=5))}
        if lease is not None:
            document["outbox_lease"] = lease  # another replica's claim
        await documents.insert_one(document)
    await relay.start(Publisher(amqp, app_id="test"))
    try:
        assert await relay.sweep() == 2
        expected = {outgoings["never"].message_id, outgoings["expired"].message_id}
        assert await published_ids(events, expected) == expected
        held = await documents.find_one({"_id": "held"})
        assert held is not None and held[PENDING] is True and len(held["outbox"]) == 1
    finally:
        await relay.stop()


async def test_a_sweep_relays_a_whole_backlog_in_a_handful_of_commands(
    isolated: Isolated, amqp: AbstractChannel, events: AbstractQueue
) -> None:
    # What a replica finds after another died under load: 150 documents, some with two events,
    # one of them leased by a live replica. Relaying them one by one cost five commands each.
    metrics = ServiceMetrics("probe")
    client = create_client(isolated.mongodb_url, listeners=[metrics.database_commands])
    documents = client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=60, grace_seconds=0)
    stored_at = datetime.now(UTC) - timedelta(seconds=5)
    outgoings = {f"d{n}": [event(f"b{n}-{k}") for k in range(1 + n % 2)] for n in range(150)}
    await documents.insert_many(
        [
            {"_id": name, **outbox_fields(events_of, stored_at)}
            for name, events_of in outgoings.items()
        ]
    )
    await documents.update_one(
        {"_id": "d7"}, {"$set": {"outbox_lease": datetime.now(UTC) + timedelta(hours=1)}}
    )
    await relay.start(Publisher(amqp, app_id="test"))
    try:
        before = commands_sent(metrics)
        relayed = await relay.sweep()
        spent = commands_sent(metrics) - before

        expected = {o.message_id for name, out in outgoings.items() if name != "d7" for o in out}
        assert relayed == len(expected) == 223
        assert await published_ids(events, expected) == expected
        assert await documents.count_documents({PENDING: True}) == 1  # d7, another's lease
        # Find (and its cursor's next batch), then per hundred documents (IN_LIST_LIMIT): lease,
        # read back, pull what was sent, clear the emptied, give the leases back. 12 commands
        # here, where one document after another took 5 x 149.
        chunks = math.ceil(149 / IN_LIST_LIMIT)
        assert spent <= 2 + 5 * chunks, breakdown(metrics)
    finally:
        await relay.stop()
        await client.close()


class WriterMeanwhile:
    """Publishes as the services do, but a writer stores a new event in the document while the
    sweep's publish is in flight."""

    def __init__(self, publisher: Publisher, documents: Collection, late: Outgoing) -> None:
        self._publisher = publisher
        self._documents = documents
        self._late: Outgoing | None = late

    async def publish_all(self, outgoings: Iterable[Outgoing]) -> None:
        if self._late is not None:
            late, self._late = self._late, None
            await self._documents.update_one(
                {"_id": "d1"}, with_outbox({}, [late], datetime.now(UTC) - timedelta(seconds=5))
            )
        await self._publisher.publish_all(outgoings)


async def test_an_event_stored_during_a_sweep_is_relayed_next_without_waiting_out_a_lease(
    isolated: Isolated, mongo_client: Client, amqp: AbstractChannel, events: AbstractQueue
) -> None:
    documents = mongo_client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=60, grace_seconds=0)
    first, late = event("swept-first"), event("swept-late")
    stored_at = datetime.now(UTC) - timedelta(seconds=5)
    await documents.insert_one({"_id": "d1", **outbox_fields([first], stored_at)})
    relay._publisher = WriterMeanwhile(Publisher(amqp, app_id="test"), documents, late)

    assert await relay.sweep() == 1
    pending = await documents.find_one({"_id": "d1"})
    assert pending is not None and [e["id"] for e in pending["outbox"]] == [late.message_id]
    assert "outbox_lease" not in pending, "the next sweep need not wait for the lease to expire"
    assert await relay.sweep() == 1
    expected = {first.message_id, late.message_id}
    assert await published_ids(events, expected) == expected


def breakdown(metrics: ServiceMetrics) -> dict[str, float]:
    return {
        sample.labels["command"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "gridloop_db_commands_total"
    }


def commands_sent(metrics: ServiceMetrics) -> float:
    return sum(
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "gridloop_db_commands_total"
    )


class BrokerGone:
    """A publisher whose broker has just stopped: every publish fails with a connection error."""

    async def publish_all(self, outgoings: object) -> None:
        raise ConnectionError("broker stopped")


async def test_a_sweep_whose_publish_fails_gives_its_lease_back(
    isolated: Isolated, mongo_client: Client
) -> None:
    documents = mongo_client[isolated.database("outbox")][f"docs_{uuid.uuid4().hex[:6]}"]
    relay = OutboxRelay([documents], SystemClock(), sweep_interval_seconds=60, grace_seconds=0)
    now = datetime.now(UTC)
    await documents.insert_one({"_id": "d1", **outbox_fields([event("gone")], now)})
    relay._publisher = BrokerGone()  # the sweep alone, without the relay's workers
    with pytest.raises(ConnectionError):
        await relay.sweep()
    stored = await documents.find_one({"_id": "d1"})
    assert stored is not None and stored[PENDING] is True
    assert "outbox_lease" not in stored, "the next sweep, of any replica, may relay it at once"
