"""The skeleton loop through all five services as separate processes and the real broker."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from gridloop_common.contracts import AcceptOrder
from gridloop_common.messaging import Publisher, department_queue, envelope
from gridloop_common.periods import month_key
from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET, ReporterTokens
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.system import ALL_SERVICES, GRID, HttpSink, System

pytestmark = pytest.mark.integration

# What intake's 202 answer gives the reporter (the services' shared development secret).
TOKENS = ReporterTokens(DEVELOPMENT_SECRET)


async def report(client: httpx.AsyncClient, system: System, description: str) -> str:
    response = await client.post(
        f"{system.url('intake')}/v1/reports",
        json={"grid_id": GRID, "category_code": "road-damage", "description": description},
    )
    assert response.status_code == 202, response.text
    report_id: str = response.json()["report_id"]
    return report_id


async def next_message(queue: AbstractQueue, what: str) -> AbstractIncomingMessage:
    async def get() -> AbstractIncomingMessage | None:
        return await queue.get(fail=False, no_ack=True)

    return await eventually(get, what=what, timeout=30)


async def sla_probe(amqp: AbstractChannel) -> AbstractQueue:
    queue = await amqp.declare_queue(exclusive=True)
    await queue.bind("gridloop.events", "sla.#")
    return queue


async def test_report_is_dispatched_accepted_timed_counted_and_notified(
    system: System, amqp: AbstractChannel, sink: HttpSink
) -> None:
    system.start(ALL_SERVICES)
    sla = await sla_probe(amqp)
    orders = await amqp.get_queue(department_queue("city-mgmt"))
    async with httpx.AsyncClient(timeout=10) as client:
        accepted_report = await report(client, system, "和平路路面坑洼")
        order_message = await next_message(orders, "the first work order")
        order = json.loads(order_message.body)
        assert order["type"] == "org.gridloop.order.v1"
        assert order["data"]["department"] == "city-mgmt"
        assert order_message.message_id == order["id"]

        # The department accepts within the window.
        reply = AcceptOrder(
            order_id=order["data"]["order_id"], department="city-mgmt", handler="worker-007"
        )
        await Publisher(amqp, "dept-city-mgmt").publish(
            envelope(reply, source="dept/city-mgmt", time=datetime.now(UTC))
        )

        # A second report that nobody accepts breaches its 3-second accept window.
        late_report = await report(client, system, "解放路井盖缺失")
        late_order = json.loads((await next_message(orders, "the second work order")).body)

        case_id = order["data"]["case_id"]

        async def accepted_case() -> dict[str, Any] | None:
            response = await client.get(
                f"{system.url('dispatch')}/v1/cases/{case_id}", headers=AS_OPERATOR
            )
            body: dict[str, Any] = response.json()
            return body if body.get("status") == "accepted" else None

        case = await eventually(accepted_case, what="case accepted in dispatch")
        assert case["report_id"] == accepted_report
        assert [h["what"] for h in case["history"]] == ["dispatched", "accepted"]
        assert case["history"][1]["who"] == "city-mgmt"

        breach = json.loads((await next_message(sla, "an sla event")).body)
        seen = [breach]
        while breach["type"] != "org.gridloop.sla.breached.v1":
            breach = json.loads((await next_message(sla, "the breach")).body)
            seen.append(breach)
        assert breach["data"]["order_id"] == late_order["data"]["order_id"]
        assert breach["data"]["clock"] == "accept"
        assert breach["data"]["department"] == "city-mgmt"
        # By the time the later order breached, the first order's window had passed too:
        # it must have been met, never breached.
        first = order["data"]["order_id"]
        assert [e["type"] for e in seen if e["data"]["order_id"] == first] == [
            "org.gridloop.sla.met.v1"
        ]

        month = month_key(datetime.now(UTC))

        async def counted() -> dict[str, Any] | None:
            response = await client.get(
                f"{system.url('scoring')}/v1/entities/department/city-mgmt",
                params={"period": month},
            )
            if response.status_code == 404:  # no figures yet: the marks wait for their tick
                return None
            metrics: dict[str, Any] = response.json()["metrics"]
            accepted = metrics["acceptance_rate"]
            done = metrics["dispatched"]["value"] == 2 and accepted["numerator"] == 1
            return metrics if done else None

        await eventually(counted, what="scoring figures: 2 dispatched, 1 accepted")

        async def notified() -> list[Any] | None:
            return [r for r in sink.requests if r.body.get("case_id") == case_id] or None

        notices = await eventually(notified, what="reporter notice for the accepted case")
        assert len(notices) == 1
        assert notices[0].body["report_id"] == accepted_report
        assert notices[0].headers.get("Idempotency-Key")

        async def report_status() -> dict[str, Any] | None:
            response = await client.get(
                f"{system.url('intake')}/v1/reports/{late_report}",
                headers={"X-Reporter-Token": TOKENS.for_report(late_report)},
            )
            body: dict[str, Any] = response.json()
            return body if body.get("status") == "dispatched" else None

        await eventually(report_status, what="intake learns its report was dispatched")


async def test_malformed_message_on_every_inbox_is_parked_and_the_next_is_handled(
    system: System, amqp: AbstractChannel
) -> None:
    system.start(ALL_SERVICES)
    inboxes = ["intake", "dispatch", "sla-monitor", "scoring", "notify"]
    for service in inboxes:
        await amqp.default_exchange.publish(
            aio_pika.Message(b'{"specversion": "1.0", "id": "x"', message_id=f"bad-{service}"),
            routing_key=f"{service}.inbox",
        )
    for service in inboxes:
        dead = await amqp.get_queue(f"{service}.dead")
        parked = await next_message(dead, f"a parked message in {service}.dead")
        assert parked.message_id == f"bad-{service}"
        assert "invalid message" in str((parked.headers or {})["x-gridloop-reason"])

    orders = await amqp.get_queue(department_queue("city-mgmt"))
    async with httpx.AsyncClient(timeout=10) as client:
        await report(client, system, "malformed messages did not stop the loop")
    await next_message(orders, "a work order after the malformed messages")


async def test_every_service_stops_cleanly_on_sigterm(system: System) -> None:
    system.start(ALL_SERVICES)
    exit_codes = {name: process.stop(timeout=20) for name, process in system.processes.items()}
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught.
    assert exit_codes == dict.fromkeys(ALL_SERVICES, -signal.SIGTERM)
    for name, process in system.processes.items():
        assert '"service_stopped"' in process.log_tail(), f"{name} did not drain and close"
