"""dispatch's message handlers called directly: they only translate a delivery into a use case
and its answer into ack, retry (NotYet) or park (PermanentError). Cases are kept in memory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from services.dispatch.tests.memory import MemoryCases, service_over
from services.dispatch.tests.test_lifecycle import a_report

from gridloop_common.contracts import AcceptOrder, CompleteOrder, Message
from gridloop_common.envelope import CloudEvent
from gridloop_common.messaging import Delivery, NotYet, PermanentError
from gridloop_dispatch.handlers import DispatchHandlers
from gridloop_dispatch.model import Order


def delivery(message: Message, routing_key: str, event_id: str) -> Delivery:
    data: dict[str, Any] = message.model_dump(mode="json")
    event = CloudEvent(
        id=event_id,
        source="test",
        type=message.TYPE,
        time=datetime(2026, 11, 26, tzinfo=UTC),
        data=data,
    )
    return Delivery(event=event, exchange="gridloop.replies", routing_key=routing_key, attempt=1)


async def dispatched() -> tuple[DispatchHandlers, MemoryCases, Order]:
    cases = MemoryCases()
    handlers = DispatchHandlers(service_over(cases))
    report = a_report()
    await handlers.on_report_received(report, delivery(report, "report.received.native", "r-1"))
    (stored,) = cases.stored.values()
    return handlers, cases, stored.case.orders[0]


async def test_a_report_delivered_twice_opens_one_case() -> None:
    handlers, cases, _ = await dispatched()
    report = a_report()

    await handlers.on_report_received(report, delivery(report, "report.received.native", "r-1"))

    assert len(cases.stored) == 1


async def test_a_reply_is_the_routing_keys_department_s_and_moves_its_order() -> None:
    handlers, cases, order = await dispatched()
    accept = AcceptOrder(order_id=order.order_id, department=order.department)

    await handlers.on_accept(accept, delivery(accept, f"{order.department}.accept", "m-1"))

    assert cases.stored[accept_case(cases)].case.status == "accepted"


async def test_a_body_naming_another_department_than_the_routing_key_is_parked() -> None:
    handlers, cases, order = await dispatched()
    forged = AcceptOrder(order_id=order.order_id, department="water")

    with pytest.raises(PermanentError, match="routing key"):
        await handlers.on_accept(forged, delivery(forged, f"{order.department}.accept", "m-1"))
    assert cases.stored[accept_case(cases)].case.status == "dispatched"


async def test_a_reply_under_another_action_s_routing_key_is_parked() -> None:
    handlers, _, order = await dispatched()
    accept = AcceptOrder(order_id=order.order_id, department=order.department)

    with pytest.raises(PermanentError, match="does not match"):
        await handlers.on_accept(accept, delivery(accept, f"{order.department}.complete", "m-1"))


async def test_a_completion_that_overtook_its_acceptance_waits_for_it() -> None:
    handlers, _, order = await dispatched()
    done = CompleteOrder(order_id=order.order_id, department=order.department, result="修好了")

    with pytest.raises(NotYet):
        await handlers.on_complete(done, delivery(done, f"{order.department}.complete", "m-2"))


async def test_a_reply_for_an_order_that_does_not_exist_is_parked_with_the_reason() -> None:
    handlers, _, order = await dispatched()
    unknown = AcceptOrder(order_id="O-nowhere", department=order.department)

    with pytest.raises(PermanentError, match="order_not_found"):
        await handlers.on_accept(unknown, delivery(unknown, f"{order.department}.accept", "m-3"))


def accept_case(cases: MemoryCases) -> str:
    (case_id,) = cases.stored
    return case_id
