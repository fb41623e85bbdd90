"""docs/security.md's broker table, walked against the broker: every operation by every caller.

Each caller is a user made by `provision-departments` (a department, another department, a
monitor, each service's own), plus a department's user with a wrong password. Each operation
runs on a fresh channel: `✓` is done (published and confirmed, consumed, bound, declared),
`403` is the broker's ACCESS_REFUSED, `refused` is a login the broker turns away.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from gridloop_common.broker_urls import url_as
from gridloop_common.messaging.topology import EXCHANGES
from gridloop_common.testing.fixtures import Isolated
from gridloop_dispatch.provisioning import BrokerAdmin, ProvisioningRequest, run_provisioning

pytestmark = pytest.mark.integration

TABLE = Path(__file__).resolve().parents[2] / "docs" / "security.md"
OWN, OTHER, MONITOR = "city-mgmt", "water", "center"
SERVICES = ("intake", "dispatch", "sla-monitor", "scoring", "notify")
PASSWORD = "broker-table-{code}"
# Queues the operations act on, declared by the administrator first.
QUEUES = (
    f"dept.{OWN}.orders",
    f"dept.{OTHER}.orders",
    "dispatch.inbox",
    "notify.inbox",
    "intake.inbox",
    f"monitor.{MONITOR}.breaches",
)
Operation = Callable[[BlockingChannel], object]


def _publish(exchange: str, key: str) -> Operation:
    return lambda channel: channel.basic_publish(exchange, key, b"{}")


OPERATIONS: dict[str, Operation] = {
    f"consume `dept.{OWN}.orders`": lambda c: c.basic_get(f"dept.{OWN}.orders", auto_ack=True),
    f"publish `{OWN}.accept` on `gridloop.replies`": _publish("gridloop.replies", f"{OWN}.accept"),
    f"publish `{OWN}` on `gridloop.orders`": _publish("gridloop.orders", OWN),
    "publish `report.received.native` on `gridloop.events`": _publish(
        "gridloop.events", "report.received.native"
    ),
    f"publish `case.dispatched.{OWN}` on `gridloop.events`": _publish(
        "gridloop.events", f"case.dispatched.{OWN}"
    ),
    f"publish `sla.breached.accept.{OWN}` on `gridloop.events`": _publish(
        "gridloop.events", f"sla.breached.accept.{OWN}"
    ),
    "publish `scoring.period_closed.month` on `gridloop.events`": _publish(
        "gridloop.events", "scoring.period_closed.month"
    ),
    f"bind `monitor.{MONITOR}.breaches` to `gridloop.events` `sla.#`": lambda c: c.queue_bind(
        f"monitor.{MONITOR}.breaches", "gridloop.events", "sla.#"
    ),
    f"bind `monitor.{MONITOR}.breaches` to `gridloop.events` `case.#`": lambda c: c.queue_bind(
        f"monitor.{MONITOR}.breaches", "gridloop.events", "case.#"
    ),
    f"bind `intake.inbox` to `gridloop.orders` `{OWN}`": lambda c: c.queue_bind(
        "intake.inbox", "gridloop.orders", OWN
    ),
    "consume `dispatch.inbox`": lambda c: c.basic_get("dispatch.inbox", auto_ack=True),
    "consume `notify.inbox`": lambda c: c.basic_get("notify.inbox", auto_ack=True),
    "declare `sla-monitor.retry.7000ms`": lambda c: c.queue_declare(
        "sla-monitor.retry.7000ms", durable=True
    ),
    "publish to `dispatch.inbox` through the default exchange": _publish("", "dispatch.inbox"),
}


def broker_table() -> tuple[list[str], dict[str, dict[str, str]]]:
    """The callers and, per operation, what each gets: the rows under "Broker, operation by
    operation"."""
    lines = TABLE.read_text(encoding="utf-8").split("### Broker, operation by operation", 1)[1]
    rows = lines.splitlines()
    header = next(line for line in rows if line.startswith("| operation |"))
    callers = [cell.strip() for cell in header.strip("|").split("|")][1:]
    table = {}
    for line in rows[rows.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(callers, cells[1:], strict=True))
    return callers, table


def _user_of(caller: str, prefix: str) -> tuple[str, str]:
    if caller == "department":
        return f"{prefix}{OWN}", PASSWORD.format(code=OWN)
    if caller == "other department":
        return f"{prefix}{OTHER}", PASSWORD.format(code=OTHER)
    if caller == "monitor":
        return f"{prefix}monitor-{MONITOR}", PASSWORD.format(code=MONITOR)
    if caller == "wrong password":
        return f"{prefix}{OWN}", "not-the-password"
    return f"{prefix}gridloop-{caller}", PASSWORD.format(code=caller)


def _outcome(url: str, operation: Operation) -> str:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except pika.exceptions.ProbableAuthenticationError:
        return "refused"
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        try:
            operation(channel)
        except pika.exceptions.ChannelClosedByBroker as refused:
            return str(refused.reply_code)
        return "✓"
    finally:
        if connection.is_open:
            connection.close()


def _prepare(admin_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(admin_url))
    try:
        channel = connection.channel()
        for name, kind in EXCHANGES:
            channel.exchange_declare(name, kind.value, durable=True)
        for queue in QUEUES:
            channel.queue_declare(queue, durable=True)
    finally:
        connection.close()


async def test_every_broker_operation_answers_every_caller_as_the_table_says(
    isolated: Isolated,
) -> None:
    callers, table = broker_table()
    assert set(table) == set(OPERATIONS), set(table) ^ set(OPERATIONS)
    prefix = f"{isolated.prefix}-{uuid.uuid4().hex[:4]}-"
    await asyncio.to_thread(_prepare, isolated.rabbitmq_url)
    await run_provisioning(
        ProvisioningRequest(
            codes=[OWN, OTHER],
            user_prefix=prefix,
            password_template=PASSWORD,
            monitors=[MONITOR],
            monitor_password_template=PASSWORD,
            services=SERVICES,
            service_password_template=PASSWORD,
        ),
        rabbitmq_url=isolated.rabbitmq_url,
        management_url=isolated.management_url,
        keys=None,
        now=datetime.now(UTC),
    )
    mismatches = []
    try:
        for name, expected in table.items():
            for caller in callers:
                user, password = _user_of(caller, prefix)
                url = url_as(isolated.rabbitmq_url, user, password)
                got = await asyncio.to_thread(_outcome, url, OPERATIONS[name])
                if got != expected[caller]:
                    mismatches.append(f"{name} as {caller}: {expected[caller]}, got {got}")
    finally:
        async with BrokerAdmin(isolated.management_url) as admin:
            for caller in callers:
                await admin.delete_user(_user_of(caller, prefix)[0])
    print(f"broker table: {len(table)} operations x {len(callers)} callers")
    assert not mismatches, "\n".join(mismatches)
