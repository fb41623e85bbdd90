"""Exchanges and queues of docs/architecture.md, declared idempotently with explicit arguments.

Arguments are spelled out (delivery limit, dead-letter strategy) because RabbitMQ 3.10 and 4.x
have different defaults, and a queue redeclared with other arguments is a channel error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue
from pamqp.common import Arguments, FieldValue

from gridloop_common.contracts.base import EVENTS_EXCHANGE, ORDERS_EXCHANGE, REPLIES_EXCHANGE
from gridloop_common.contracts.parties import BROKER_USE

EXCHANGES: tuple[tuple[str, aio_pika.ExchangeType], ...] = (
    (EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC),
    (ORDERS_EXCHANGE, aio_pika.ExchangeType.DIRECT),
    (REPLIES_EXCHANGE, aio_pika.ExchangeType.TOPIC),
)


def inbox_queue(service: str) -> str:
    return f"{service}.inbox"


def dead_queue(service: str) -> str:
    return f"{service}.dead"


def retry_queue(service: str, delay_ms: int) -> str:
    return f"{service}.retry.{delay_ms}ms"


def department_queue(code: str) -> str:
    return f"dept.{code}.orders"


def _quorum(**extra: FieldValue) -> Arguments:
    return {"x-queue-type": "quorum", **extra}


def _dead_letter_to(queue: str) -> dict[str, FieldValue]:
    # Dead-letter through the default exchange straight to a named queue; at-least-once so the
    # broker keeps the message until the target confirms it (needs reject-publish overflow).
    return {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


# The broker's own delivery limit is a backstop for a message that kills its consumer before the
# crash journal can count it; the journal parks a poison at `delivery_limit`. RabbitMQ 3.x charges
# *every* message in a dead consumer's prefetch for each death, so an innocent message sitting in
# the buffers of replicas killed by a poison (up to `delivery_limit` deaths per poison) and by
# other crashes is charged many times: with the backstop equal to the journal's limit the fault
# suite saw good messages dead-lettered. Twenty poisons' worth of deaths is far above that.
BROKER_BACKSTOP_FACTOR = 20


# Looking at a parked message (`gridloop-ops parked list`, the console's parked page) takes it
# and gives it back, which counts as a delivery; so does a department's consumer that returns an
# order. RabbitMQ 4 gives a quorum queue a delivery limit of 20 unless told otherwise and drops a
# message past it when, as here, the queue dead-letters nowhere: the twenty-first look would lose
# a parked message. So these queues state a limit far beyond any looking. -1 ("none") is not an
# answer: RabbitMQ 3.10 then drops a message at its first return.
KEEP_DELIVERY_LIMIT = 1_000_000


def kept_quorum_arguments() -> Arguments:
    """A quorum queue whose messages the broker never drops for being returned: the parking
    queues and the department queues."""
    return _quorum(**{"x-delivery-limit": KEEP_DELIVERY_LIMIT})


def broker_delivery_limit(delivery_limit: int) -> int:
    """The inbox's `x-delivery-limit` for a consumer that parks poison at `delivery_limit`."""
    return delivery_limit * BROKER_BACKSTOP_FACTOR


def exchanges_of(service: str) -> tuple[str, ...]:
    """The exchanges a service declares: those it uses (its broker user may configure no other);
    every one for a name outside the system's five (tests, tools)."""
    use = BROKER_USE.get(service)
    return use.exchanges(service) if use is not None else tuple(name for name, _ in EXCHANGES)


async def declare_exchanges(channel: AbstractChannel, names: Iterable[str] | None = None) -> None:
    wanted = None if names is None else set(names)
    for name, kind in EXCHANGES:
        if wanted is None or name in wanted:
            await channel.declare_exchange(name, kind, durable=True)


async def declare_inbox(
    channel: AbstractChannel,
    service: str,
    bindings: Iterable[Binding],
    retry_delays_ms: Iterable[int],
    delivery_limit: int,
) -> AbstractQueue:
    """The service's quorum inbox, its retry tiers and its parking queue."""
    await channel.declare_queue(
        dead_queue(service), durable=True, arguments=kept_quorum_arguments()
    )
    inbox = await channel.declare_queue(
        inbox_queue(service),
        durable=True,
        arguments=_quorum(
            **{"x-delivery-limit": broker_delivery_limit(delivery_limit)},
            **_dead_letter_to(dead_queue(service)),
        ),
    )
    for delay in retry_delays_ms:
        await channel.declare_queue(
            retry_queue(service, delay),
            durable=True,
            arguments=_quorum(**{"x-message-ttl": delay}, **_dead_letter_to(inbox_queue(service))),
        )
    for binding in bindings:
        await inbox.bind(binding.exchange, binding.routing_key)
    return inbox


async def declare_department_queue(channel: AbstractChannel, code: str) -> AbstractQueue:
    """`dept.<code>.orders`, bound to gridloop.orders by the department's code only."""
    queue = await channel.declare_queue(
        department_queue(code), durable=True, arguments=kept_quorum_arguments()
    )
    await queue.bind(ORDERS_EXCHANGE, code)
    return queue
