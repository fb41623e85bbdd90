"""Who may do what: least-privilege department credentials, and replies dispatch refuses."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import pika
import pika.exceptions
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.messaging import department_queue
from gridloop_common.messaging.topology import kept_quorum_arguments
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.infrastructure import Infrastructure
from gridloop_common.testing.polling import eventually
from gridloop_dispatch.__main__ import parser, provision
from gridloop_dispatch.provisioning import BrokerAdmin
from gridloop_dispatch.settings import DispatchSettings
from tests.integration.departments import (
    AioDepartment,
    Center,
    Departments,
    EventProbe,
    for_report,
    publish_report,
    reply_envelope,
    shared_dispatch,
    url_as,
)
from tests.integration.dispatch_fixtures import (  # noqa: F401  (fixtures, used by name)
    amqp,
    center,
    departments,
    logs_on_failure,
)
from tests.integration.system import System

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Isolated, System]]:
    log_dir = tmp_path_factory.mktemp("dispatch-access")
    # A 1-second accept window: the overdue filter has something to show quickly.
    with shared_dispatch(infrastructure, log_dir, {"SLA_ACCEPT_WINDOW_SECONDS": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def dead(amqp: AbstractChannel) -> DeadLetters:
    return DeadLetters(amqp)


class DeadLetters:
    """What dispatch parked in `dispatch.dead`, by message id."""

    def __init__(self, amqp: AbstractChannel) -> None:
        self._amqp = amqp
        self.seen: dict[str, AbstractIncomingMessage] = {}

    async def parked(self, message_id: str) -> AbstractIncomingMessage:
        dead = await self._amqp.get_queue("dispatch.dead")

        async def find() -> AbstractIncomingMessage | None:
            while (message := await dead.get(fail=False, no_ack=True)) is not None:
                self.seen[message.message_id or ""] = message
            return self.seen.get(message_id)

        return await eventually(find, what=f"message {message_id} parked in dispatch.dead")


def refused_code(action: Any) -> int:
    """Run a pika call that the broker must refuse; the channel-closing reply code."""
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        action()
    return int(refused.value.reply_code)


async def test_department_credentials_reach_only_its_own_queue_and_its_own_replies(
    shared: tuple[Isolated, System], capsys: pytest.CaptureFixture[str]
) -> None:
    isolated = shared[0]  # dispatch declared the exchanges and department queues there
    prefix = f"{isolated.prefix}-cli-"
    password = f"pw-{uuid.uuid4().hex[:8]}-{{code}}"
    # The provisioning command as an operator runs it (in-process: a Python start-up saved).
    args = parser().parse_args(
        [
            "provision-departments",
            "--departments",
            "city-mgmt,water",
            "--user-prefix",
            prefix,
            "--password-template",
            password,
        ]
    )
    settings = DispatchSettings(
        rabbitmq_url=isolated.rabbitmq_url,
        rabbitmq_management_url=isolated.management_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("dispatch"),
    )
    try:
        assert await provision(args, settings) == 0
        assert "provisioned 2 department(s)" in capsys.readouterr().out
        city_url = url_as(
            isolated.rabbitmq_url, f"{prefix}city-mgmt", password.format(code="city-mgmt")
        )
        await asyncio.to_thread(_only_its_own, city_url)
    finally:
        async with BrokerAdmin(isolated.management_url) as admin:
            for code in ("city-mgmt", "water"):
                await admin.delete_user(f"{prefix}{code}")


def _only_its_own(url: str) -> None:
    """city-mgmt's credentials against the broker, one refused operation per channel."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # Its own queue: readable (empty here), and replies under its own code: confirmed.
        assert channel.basic_get(department_queue("city-mgmt"), auto_ack=True) == (None, None, None)
        channel.basic_publish(
            "gridloop.replies",
            "city-mgmt.accept",
            json.dumps(reply_envelope("city-mgmt", "accept", {"order_id": "O-none"})),
            pika.BasicProperties(delivery_mode=2),
        )

        other_queue = connection.channel()
        assert refused_code(lambda: other_queue.basic_get(department_queue("water"))) == 403

        orders = connection.channel()
        orders.confirm_delivery()
        assert refused_code(lambda: orders.basic_publish("gridloop.orders", "water", b"{}")) == 403

        impersonation = connection.channel()
        impersonation.confirm_delivery()
        body = json.dumps(reply_envelope("water", "accept", {"order_id": "O-none"}))
        assert (
            refused_code(
                lambda: impersonation.basic_publish("gridloop.replies", "water.accept", body)
            )
            == 403
        )

        declaring = connection.channel()
        assert refused_code(lambda: declaring.queue_declare("city-mgmt.private")) == 403
    finally:
        connection.close()


async def test_a_monitor_account_hears_the_sla_events_and_nothing_else(
    shared: tuple[Isolated, System], capsys: pytest.CaptureFixture[str]
) -> None:
    isolated = shared[0]
    prefix = f"{isolated.prefix}-mon-"
    args = parser().parse_args(
        [
            "provision-departments",
            "--departments",
            "water",
            "--user-prefix",
            prefix,
            "--password-template",
            f"pw-{uuid.uuid4().hex[:8]}-{{code}}",
            "--monitors",
            "center",
            "--monitor-password-template",
            "mpw-{code}-7",
        ]
    )
    settings = DispatchSettings(
        rabbitmq_url=isolated.rabbitmq_url,
        rabbitmq_management_url=isolated.management_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("dispatch"),
    )
    try:
        assert await provision(args, settings) == 0
        said = capsys.readouterr().out
        assert f"monitor center: broker user {prefix}monitor-center" in said
        assert "provisioned 1 department(s), 1 monitor(s)" in said
        monitor_url = url_as(isolated.rabbitmq_url, f"{prefix}monitor-center", "mpw-center-7")
        await asyncio.to_thread(_monitor_only, monitor_url, isolated.rabbitmq_url)
    finally:
        async with BrokerAdmin(isolated.management_url) as admin:
            for user in ("water", "monitor-center"):
                await admin.delete_user(f"{prefix}{user}")


def _monitor_only(url: str, admin_url: str) -> None:
    """The monitor's own queue on sla.#: declared, bound, consumed; everything else refused."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    admin = pika.BlockingConnection(pika.URLParameters(admin_url))
    try:
        channel = connection.channel()
        queue = "monitor.center.breaches"
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(queue, "gridloop.events", "sla.breached.#")
        publisher = admin.channel()
        publisher.confirm_delivery()
        publisher.basic_publish("gridloop.events", "sla.breached.accept.water", b'{"sla": 1}')
        publisher.basic_publish("gridloop.events", "case.dispatched.water", b'{"case": 1}')
        heard = None
        for _ in range(50):
            heard = channel.basic_get(queue, auto_ack=True)
            if heard[0] is not None:
                break
            connection.sleep(0.1)
        assert heard is not None and heard[2] == b'{"sla": 1}'

        case_events = connection.channel()  # the case events carry residents' words
        assert refused_code(lambda: case_events.queue_bind(queue, "gridloop.events", "#")) == 403
        others = connection.channel()
        assert refused_code(lambda: others.queue_declare("monitor.other.breaches")) == 403
        orders = connection.channel()
        assert refused_code(lambda: orders.basic_get(department_queue("water"))) == 403
        inbox = connection.channel()
        assert refused_code(lambda: inbox.basic_get("dispatch.inbox")) == 403
        publish = connection.channel()
        publish.confirm_delivery()
        forged = lambda: publish.basic_publish("gridloop.events", "sla.breached.x", b"{}")  # noqa: E731
        assert refused_code(forged) == 403
    finally:
        connection.close()
        admin.close()


async def test_a_service_account_does_its_own_work_and_cannot_pass_as_another_service(
    shared: tuple[Isolated, System], capsys: pytest.CaptureFixture[str]
) -> None:
    isolated = shared[0]
    prefix = f"{isolated.prefix}-svc-"
    args = parser().parse_args(
        [
            "provision-departments",
            "--departments",
            "water",
            "--user-prefix",
            prefix,
            "--password-template",
            f"pw-{uuid.uuid4().hex[:8]}-{{code}}",
            "--services",
            "intake,notify",
            "--service-password-template",
            "spw-{code}-3",
        ]
    )
    settings = DispatchSettings(
        rabbitmq_url=isolated.rabbitmq_url,
        rabbitmq_management_url=isolated.management_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("dispatch"),
    )
    try:
        assert await provision(args, settings) == 0
        said = capsys.readouterr().out
        assert f"service intake: broker user {prefix}gridloop-intake" in said
        assert "provisioned 1 department(s), 0 monitor(s), 2 service(s)" in said
        intake = url_as(isolated.rabbitmq_url, f"{prefix}gridloop-intake", "spw-intake-3")
        notify = url_as(isolated.rabbitmq_url, f"{prefix}gridloop-notify", "spw-notify-3")
        await asyncio.to_thread(_intake_only, intake, notify)
    finally:
        async with BrokerAdmin(isolated.management_url) as admin:
            for user in ("water", "gridloop-intake", "gridloop-notify"):
                await admin.delete_user(f"{prefix}{user}")


def _intake_only(intake_url: str, notify_url: str) -> None:
    """intake's user: its own queues and its own events; notify's: no event at all."""
    connection = pika.BlockingConnection(pika.URLParameters(intake_url))
    other = pika.BlockingConnection(pika.URLParameters(notify_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare("gridloop.events", "topic", durable=True)
        channel.queue_declare("intake.dead", durable=True, arguments=kept_quorum_arguments())
        channel.queue_bind("intake.dead", "gridloop.events", "case.closed.#")
        channel.basic_publish("gridloop.events", "report.received.native", b"{}")
        channel.basic_publish("", "intake.dead", b"{}")  # how parking reaches its own queue
        assert channel.basic_get("intake.dead", auto_ack=True)[0] is not None

        refusals = {
            "announce a breach": lambda c: c.basic_publish(
                "gridloop.events", "sla.breached.accept.water", b"{}"
            ),
            "dispatch a case": lambda c: c.basic_publish(
                "gridloop.events", "case.dispatched.water", b"{}"
            ),
            "send an order": lambda c: c.basic_publish("gridloop.orders", "water", b"{}"),
            "read the orders": lambda c: c.queue_bind("intake.dead", "gridloop.orders", "water"),
            "read a department's queue": lambda c: c.basic_get(department_queue("water")),
            "read another inbox": lambda c: c.basic_get("dispatch.inbox"),
            "declare another's queue": lambda c: c.queue_declare("dispatch.private"),
            "configure the orders exchange": lambda c: c.exchange_declare(
                "gridloop.orders", "direct", durable=True
            ),
        }
        for what, action in refusals.items():
            refused = connection.channel()
            refused.confirm_delivery()
            assert refused_code(lambda a=action, c=refused: a(c)) == 403, what

        notify = other.channel()
        notify.confirm_delivery()
        published = lambda: notify.basic_publish("gridloop.events", "report.received.x", b"{}")  # noqa: E731
        assert refused_code(published) == 403
    finally:
        connection.close()
        other.close()


async def test_a_reply_about_another_departments_order_is_parked_and_reported(
    center: Center, departments: Departments, amqp: AbstractChannel, dead: DeadLetters
) -> None:
    events = await EventProbe(amqp).start()
    accounts = await departments.provision("city-mgmt", "water")
    report_id = await publish_report(amqp, "road-damage")
    async with (
        AioDepartment(accounts["city-mgmt"]) as city,
        AioDepartment(accounts["water"]) as water,
    ):
        order = (await city.next_order(for_report(report_id)))["data"]
        # water writes under its own code (the broker allows nothing else) about city-mgmt's order.
        message_id = await water.reply("accept", order["order_id"], handler="w-1")
        parked_reply = await dead.parked(message_id)
        reason = str((parked_reply.headers or {})["x-gridloop-reason"])
        assert "not_your_order" in reason
        assert "belongs to city-mgmt, not water" in reason
        refused = await events.wait_for("reply_refused", lambda e: e["data"]["via"] == "amqp")
        assert refused["routing_key"] == "case.reply_refused.water"
        assert (refused["data"]["owner_department"], refused["data"]["reply_type"]) == (
            "city-mgmt",
            "accept",
        )

        # The same over HTTP: 403, and recorded likewise.
        response = await center.as_department(accounts["water"], order["order_id"], "accept", {})
        assert response.status_code == 403
        assert response.json()["code"] == "not_your_order"
        await events.wait_for("reply_refused", lambda e: e["data"]["via"] == "http")

    case = await center.case(order["case_id"])
    assert case["status"] == "dispatched", "nothing moved"
    assert [line["what"] for line in case["history"]] == [
        "dispatched",
        "reply_refused",
        "reply_refused",
    ]

    # Unaccepted past its (1-second) accept-by, the case shows up as overdue.
    async def overdue() -> list[dict[str, Any]] | None:
        return await center.cases(overdue="true") or None

    assert order["case_id"] in [c["case_id"] for c in await eventually(overdue, what="overdue")]
    await events.close()


async def test_a_malformed_reply_is_parked_with_the_reason(
    center: Center, departments: Departments, amqp: AbstractChannel, dead: DeadLetters
) -> None:
    accounts = await departments.provision("city-mgmt")
    report_id = await publish_report(amqp, "road-damage")
    async with AioDepartment(accounts["city-mgmt"]) as city:
        order = (await city.next_order(for_report(report_id)))["data"]
        # Not a reason code dispatch knows.
        bad_reason = await city.reply("reject", order["order_id"], reason_code="too-busy")
        # "other" without the text that must explain it.
        no_text = await city.reply("reject", order["order_id"], reason_code="other")
        # A body passing for another unit, under city-mgmt's own routing key.
        impostor = await city.reply("accept", order["order_id"], department="water")
        # Not even JSON.
        channel = city._channel
        assert channel is not None
        exchange = await channel.get_exchange("gridloop.replies", ensure=False)
        await exchange.publish(
            aio_pika.Message(b'{"specversion": "1.0", "id"', message_id="not-json"),
            routing_key="city-mgmt.progress",
        )
        for message_id in (bad_reason, no_text, "not-json"):
            message = await dead.parked(message_id)
            assert "invalid message" in str((message.headers or {})["x-gridloop-reason"])
        passed_for = str(((await dead.parked(impostor)).headers or {})["x-gridloop-reason"])
        assert "the body names department 'water'" in passed_for, passed_for
        # Nothing moved; the order can still be accepted.
        await city.reply("accept", order["order_id"])
    await center.case_in(order["case_id"], "accepted")
    # Accepted, its next deadline is complete-by, days away: not overdue.
    assert order["case_id"] in [c["case_id"] for c in await center.cases(overdue="false")]
    assert order["case_id"] not in [c["case_id"] for c in await center.cases(overdue="true")]
