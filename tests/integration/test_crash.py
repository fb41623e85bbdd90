"""A SIGKILL between storing a case and publishing its work order loses nothing, doubles nothing."""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from prometheus_client.parser import text_string_to_metric_families

from gridloop_common.messaging import department_queue
from gridloop_common.mongo import Client
from gridloop_common.testing.polling import eventually
from tests.integration.system import GRID, System

pytestmark = pytest.mark.integration


def handled_reports(metrics_text: str) -> float:
    """How many report.received messages the process handled, from its Prometheus text."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "gridloop_messages_total"
                and labels.get("type") == "org.gridloop.report.received.v1"
                and labels.get("outcome") == "handled"
            ):
                return float(sample.value)
    return 0.0


async def test_dispatch_killed_after_storing_a_case_resends_one_work_order_on_restart(
    system: System, amqp: AbstractChannel, mongo_client: Client
) -> None:
    system.start(["intake"])
    system.start(["dispatch"], {"GRIDLOOP_FAULT_POINT": "dispatch.after_case_stored"})
    orders = await amqp.get_queue(department_queue("city-mgmt"))
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{system.url('intake')}/v1/reports",
            json={"grid_id": GRID, "category_code": "road-damage", "description": "路面坑洼"},
        )
    assert response.status_code == 202
    report_id = response.json()["report_id"]

    dispatch = system.processes["dispatch"]
    assert dispatch.wait_exit(timeout=30) == -signal.SIGKILL
    cases = mongo_client[system.isolated.database("dispatch")]["cases"]
    stored = await cases.find_one({"report_id": report_id})
    assert stored is not None, "the case was stored before the crash"
    assert stored["outbox_pending"] is True
    assert await orders.get(no_ack=True, fail=False) is None, "no order before the restart"

    system.start(["dispatch"])  # same database and vhost, no fault point

    async def relayed() -> bool:
        case = await cases.find_one({"_id": stored["_id"]})
        return case is not None and case["outbox_pending"] is False

    await eventually(relayed, what="the restarted dispatch relays the stored outbox")

    async def redelivery_handled() -> bool:
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{system.url('dispatch')}/metrics")).text
        return handled_reports(metrics) >= 1

    await eventually(redelivery_handled, what="the unacked report.received handled again")
    message = await eventually(
        lambda: orders.get(no_ack=True, fail=False), what="the work order after the restart"
    )
    # Both the relay and the redelivered report are done: a second order would be there now.
    assert await orders.get(no_ack=True, fail=False) is None, "exactly one work order"
    order = json.loads(message.body)
    assert order["data"]["order_id"] == stored["orders"][0]["order_id"]
    assert message.message_id == stored["outbox"][0]["id"]
