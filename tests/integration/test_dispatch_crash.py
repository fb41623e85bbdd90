"""A SIGKILL right after a department's reply is stored: one event after restart, no second one."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from prometheus_client.parser import text_string_to_metric_families

from gridloop_common.contracts import AcceptOrder
from gridloop_common.messaging import Publisher, department_queue, envelope
from gridloop_common.mongo import Client
from gridloop_common.testing.polling import eventually
from tests.integration.departments import EventProbe, for_report, publish_report
from tests.integration.system import System

pytestmark = pytest.mark.integration


def handled(metrics_text: str, message_type: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if (
                sample.name == "gridloop_messages_total"
                and sample.labels.get("type") == message_type
                and sample.labels.get("outcome") == "handled"
            ):
                return float(sample.value)
    return 0.0


async def test_dispatch_killed_after_storing_an_acceptance_publishes_it_once_after_restart(
    system: System, amqp: AbstractChannel, mongo_client: Client
) -> None:
    system.start(["dispatch"], {"GRIDLOOP_FAULT_POINT": "dispatch.after_change_stored"})
    events = await EventProbe(amqp).start()
    orders = await amqp.get_queue(department_queue("city-mgmt"))
    report_id = await publish_report(amqp, "road-damage")
    message = await eventually(lambda: orders.get(no_ack=True, fail=False), what="the order")
    order = json.loads(message.body)["data"]
    assert for_report(report_id)(order)

    # guest may publish under any key; the department's own user could only use city-mgmt.*.
    reply = AcceptOrder(order_id=order["order_id"], department="city-mgmt")
    outgoing = envelope(reply, source="dept/city-mgmt", time=datetime.now(UTC))
    await Publisher(amqp, "dept-city-mgmt").publish(outgoing)
    dispatch = system.processes["dispatch"]
    assert await asyncio.to_thread(dispatch.wait_exit, 30) == -signal.SIGKILL

    cases = mongo_client[system.isolated.database("dispatch")]["cases"]
    stored = await cases.find_one({"_id": order["case_id"]})
    assert stored is not None
    assert stored["status"] == "accepted", "the change was stored before the crash"
    assert stored["outbox_pending"] is True
    [pending] = [e for e in stored["outbox"] if "case.accepted" in e["routing_key"]]

    system.start(["dispatch"])  # the same database and vhost, no fault point
    accepted = await events.wait_for("accepted", lambda e: e["subject"] == order["case_id"])
    assert accepted["id"] == pending["id"]

    async def settled() -> bool:
        case = await cases.find_one({"_id": order["case_id"]})
        return case is not None and case["outbox_pending"] is False

    await eventually(settled, what="the outbox relayed after the restart")

    async def redelivery_handled() -> bool:
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{system.url('dispatch')}/metrics")).text
        return handled(metrics, AcceptOrder.TYPE) >= 1

    await eventually(redelivery_handled, what="the unacked accept handled again")
    # The redelivered reply was already applied: acked without a second change or event.
    case = await cases.find_one({"_id": order["case_id"]})
    assert case is not None
    assert [line["what"] for line in case["history"]] == ["dispatched", "accepted"]
    assert case["applied"] == [outgoing.message_id]
    await events.wait_for("dispatched", lambda e: e["subject"] == order["case_id"])
    assert [e["id"] for e in events.seen if e["type"].endswith("case.accepted.v1")] == [
        pending["id"]
    ]
