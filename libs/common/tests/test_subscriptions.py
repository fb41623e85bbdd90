"""A service's subscriptions: one handler per message type, found by the type's name."""

from __future__ import annotations

import pytest

from gridloop_common.contracts.orders import AcceptOrder, RejectOrder
from gridloop_common.messaging import Delivery, DuplicateSubscription, Subscription
from gridloop_common.messaging.consumer import handlers_by_type


async def on_accept(message: AcceptOrder, delivery: Delivery) -> None: ...


async def on_reject(message: RejectOrder, delivery: Delivery) -> None: ...


async def also_on_accept(message: AcceptOrder, delivery: Delivery) -> None: ...


def test_each_message_type_finds_its_own_handler() -> None:
    by_type = handlers_by_type(
        [Subscription(AcceptOrder, on_accept), Subscription(RejectOrder, on_reject)]
    )

    assert by_type[AcceptOrder.TYPE].handler is on_accept
    assert by_type[RejectOrder.TYPE].handler is on_reject


def test_a_type_registered_twice_is_refused_rather_than_one_handler_silently_dropped() -> None:
    with pytest.raises(DuplicateSubscription, match=AcceptOrder.TYPE):
        handlers_by_type(
            [Subscription(AcceptOrder, on_accept), Subscription(AcceptOrder, also_on_accept)]
        )
