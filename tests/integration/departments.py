"""Departments as separate consumers on their own least-privilege credentials, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pika
from aio_pika.abc import AbstractChannel, AbstractQueue
from pymongo import MongoClient

from gridloop_common.broker_urls import url_as
from gridloop_common.contracts import ReportReceived
from gridloop_common.envelope import CONTENT_TYPE
from gridloop_common.messaging import Publisher, department_queue, envelope
from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import create_client
from gridloop_common.testing.fixtures import Isolated, isolation
from gridloop_common.testing.infrastructure import Infrastructure
from gridloop_common.testing.polling import eventually
from gridloop_dispatch.auth import department_key, new_secret
from gridloop_dispatch.model import case_id_for
from gridloop_dispatch.provisioning import BrokerAdmin, DepartmentAccount, provision_departments
from gridloop_dispatch.repository import DEPARTMENT_KEYS, DepartmentKeyRepository
from tests.integration.system import System

# Short windows and retries so hours-long rules are tested in seconds (as conftest's FAST_ENV).
FAST_ENV = {
    "SLA_ACCEPT_WINDOW_SECONDS": "3",
    "RETRY_DELAYS_MS": "200,400",
    "WAIT_FOR_EARLIER_SECONDS": "2",
    "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.5",
    "OUTBOX_GRACE_SECONDS": "1",
    "PREFETCH": "32",
}
GRID = "grd-xijin-001-01"  # a real registry grid: 西津街道, fallback owner twp-xijin
REPLY_TYPES = {
    "accept": "org.gridloop.reply.accept.v1",
    "reject": "org.gridloop.reply.reject.v1",
    "progress": "org.gridloop.reply.progress.v1",
    "complete": "org.gridloop.reply.complete.v1",
    "request-extension": "org.gridloop.reply.request_extension.v1",
}

OPERATOR_KEY = "test-operator-key"
AS_OPERATOR = {"X-Api-Key": OPERATOR_KEY}


@dataclass(frozen=True)
class Credentials:
    code: str
    user: str
    password: str
    api_key: str
    amqp_url: str


@dataclass
class Departments:
    """Provisions departments on the test's vhost; broker users are deleted at the end."""

    isolated: Isolated
    created: list[str] = field(default_factory=list)
    accounts: dict[str, Credentials] = field(default_factory=dict)

    @property
    def user_prefix(self) -> str:
        return f"{self.isolated.prefix}-"

    async def provision(self, *codes: str) -> dict[str, Credentials]:
        """Credentials of each department; each is provisioned once per vhost."""
        missing = [code for code in codes if code not in self.accounts]
        if missing:
            self.accounts.update(await self._provision(missing))
        return {code: self.accounts[code] for code in codes}

    async def _provision(self, codes: list[str]) -> dict[str, Credentials]:
        accounts = [
            DepartmentAccount(code, f"pw-{uuid.uuid4().hex}", department_key(code, new_secret()))
            for code in codes
        ]
        client = create_client(self.isolated.mongodb_url)
        try:
            keys = DepartmentKeyRepository(
                client[self.isolated.database("dispatch")][DEPARTMENT_KEYS]
            )
            async with BrokerAdmin(self.isolated.management_url) as admin:
                done = await provision_departments(
                    admin,
                    self.isolated.vhost,
                    accounts,
                    keys,
                    datetime.now(UTC),
                    user_prefix=self.user_prefix,
                )
        finally:
            await client.close()
        self.created += [d.user for d in done]
        return {
            a.code: Credentials(
                a.code,
                d.user,
                a.password,
                a.api_key or "",
                url_as(self.isolated.rabbitmq_url, d.user, a.password),
            )
            for a, d in zip(accounts, done, strict=True)
        }

    async def delete_users(self) -> None:
        async with BrokerAdmin(self.isolated.management_url) as admin:
            for user in self.created:
                await admin.delete_user(user)


def for_report(report_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: bool(data["reference"] == report_id)


def for_case(case_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: bool(data["case_id"] == case_id)


def reply_envelope(code: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
    """A reply as any department system would write it: plain CloudEvents JSON."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"dept/{code}",
        "type": REPLY_TYPES[action],
        "subject": data.get("order_id"),
        "time": datetime.now(UTC).isoformat(),
        "data": {"department": code, **data},
    }


class AioDepartment:
    """A department system on aio-pika: reads its own queue, replies under its own code."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None

    async def __aenter__(self) -> AioDepartment:
        self._connection = await aio_pika.connect_robust(self.credentials.amqp_url)
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._queue = await self._channel.get_queue(department_queue(self.credentials.code))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def next_order(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """The next order whose data matches; others (other tests' cases) are dropped."""
        assert self._queue is not None
        queue_ = self._queue

        async def get() -> dict[str, Any] | None:
            while (message := await queue_.get(fail=False, no_ack=True)) is not None:
                order: dict[str, Any] = json.loads(message.body)
                assert order["type"] == "org.gridloop.order.v1"
                assert message.message_id == order["id"]
                if match(order["data"]):
                    return order
            return None

        return await eventually(
            get, timeout=timeout, what=f"a work order for {self.credentials.code}"
        )

    async def reply(self, action: str, order_id: str, **data: Any) -> str:
        assert self._channel is not None
        event = reply_envelope(self.credentials.code, action, {"order_id": order_id, **data})
        exchange = await self._channel.get_exchange("gridloop.replies", ensure=False)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(event).encode(),
                content_type=CONTENT_TYPE,
                message_id=event["id"],
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"{self.credentials.code}.{action}",
            mandatory=True,
        )
        return str(event["id"])


class PikaDepartment:
    """A department system on the synchronous `pika` client, in a thread of its own.

    Accepts every order as it arrives (as an automated department system would) and records it;
    the test asks it for further replies, which its thread publishes with confirms.
    """

    def __init__(self, credentials: Credentials, handler: str = "worker-007") -> None:
        self.credentials = credentials
        self.handler = handler
        self.orders: queue.Queue[dict[str, Any]] = queue.Queue()
        self._failures: list[BaseException] = []
        self._ready = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._thread = threading.Thread(target=self._run, name="pika-department", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError(f"pika department did not connect: {self._failures}")

    def _run(self) -> None:
        try:
            self._connection = pika.BlockingConnection(
                pika.URLParameters(self.credentials.amqp_url)
            )
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self._channel.basic_consume(
                department_queue(self.credentials.code), self._on_order, auto_ack=False
            )
            self._ready.set()
            self._channel.start_consuming()
        except BaseException as error:
            self._failures.append(error)
            self._ready.set()

    def _on_order(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        order = json.loads(body)
        self._publish("accept", {"order_id": order["data"]["order_id"], "handler": self.handler})
        channel.basic_ack(method.delivery_tag)
        self.orders.put(order)

    def _publish(self, action: str, data: dict[str, Any]) -> None:
        event = reply_envelope(self.credentials.code, action, data)
        self._channel.basic_publish(
            "gridloop.replies",
            f"{self.credentials.code}.{action}",
            json.dumps(event),
            pika.BasicProperties(
                content_type=CONTENT_TYPE, delivery_mode=2, message_id=event["id"]
            ),
            mandatory=True,
        )

    def reply(self, action: str, data: dict[str, Any]) -> None:
        """Publish from the department's own thread (pika is not thread-safe)."""
        assert self._connection is not None
        done = threading.Event()

        def publish() -> None:
            try:
                self._publish(action, data)
            except BaseException as error:
                self._failures.append(error)
            finally:
                done.set()

        self._connection.add_callback_threadsafe(publish)
        if not done.wait(10) or self._failures:
            raise RuntimeError(f"pika reply failed: {self._failures}")

    async def next_order(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        def take() -> dict[str, Any]:
            while not match((order := self.orders.get(timeout=timeout))["data"]):
                pass
            return order

        return await asyncio.to_thread(take)

    def stop(self) -> None:
        if self._connection is not None and self._connection.is_open:
            connection = self._connection

            def close() -> None:
                self._channel.stop_consuming()

            connection.add_callback_threadsafe(close)
            self._thread.join(10)
            if connection.is_open:
                connection.close()


class EventProbe:
    """Everything dispatch publishes on `case.#`, collected in arrival order."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._queue: AbstractQueue | None = None
        self.seen: list[dict[str, Any]] = []

    async def start(self) -> EventProbe:
        await declare_exchanges(self._channel)
        self._queue = await self._channel.declare_queue(exclusive=True)
        await self._queue.bind("gridloop.events", "case.#")
        return self

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.delete(if_unused=False, if_empty=False)

    async def _drain(self) -> None:
        assert self._queue is not None
        while (message := await self._queue.get(fail=False, no_ack=True)) is not None:
            self.seen.append({**json.loads(message.body), "routing_key": message.routing_key})

    async def wait_for(
        self, what: str, match: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        event_type = f"org.gridloop.case.{what}.v1"

        async def find() -> dict[str, Any] | None:
            await self._drain()
            return next((e for e in self.seen if e["type"] == event_type and match(e)), None)

        return await eventually(find, what=f"case.{what} event", timeout=20)


async def publish_report(
    channel: AbstractChannel, category: str, grid: str = GRID, description: str = "路面坑洼"
) -> str:
    """What intake would publish; the report id is unique per call."""
    report = ReportReceived(
        report_id=f"R-{uuid.uuid4().hex[:12]}",
        channel="native",
        grid_id=grid,
        category_code=category,
        description=description,
        reported_at=datetime.now(UTC),
    )
    outgoing = envelope(report, source="test/intake", time=datetime.now(UTC))
    await Publisher(channel, app_id="test").publish(outgoing)
    return report.report_id


@contextlib.contextmanager
def shared_dispatch(
    infrastructure: Infrastructure, log_dir: Path, env: dict[str, str]
) -> Iterator[tuple[Isolated, System]]:
    """One dispatch process on a vhost of its own, shared by a module's tests.

    Starting dispatch costs seconds; the tests of a module tell their cases apart by id.
    """
    with isolation(infrastructure) as isolated:
        prefix = f"{isolated.prefix}-"
        system = System(
            isolated=isolated,
            log_dir=log_dir,
            env={
                **FAST_ENV,
                "OPERATOR_API_KEY": OPERATOR_KEY,
                "DEPARTMENT_USER_PREFIX": prefix,
                **env,
            },
        )
        try:
            system.start(["dispatch"])
            yield isolated, system
        finally:
            system.stop_all()
            client = MongoClient(isolated.mongodb_url)
            try:
                for name in client.list_database_names():
                    if name.startswith(isolated.prefix):
                        client.drop_database(name)
            finally:
                client.close()


class Center:
    """dispatch's HTTP API as the center's operator, a department and a reporter use it."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self.http = http

    async def case(self, case_id: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.base_url}/v1/cases/{case_id}", headers=AS_OPERATOR)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def case_in(self, case_id: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            body = await self.case(case_id)
            return body if body["status"] == status else None

        return await eventually(probe, what=f"case {case_id} {status}", timeout=20)

    async def case_of_report(self, report_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            response = await self.http.get(
                f"{self.base_url}/v1/cases/{case_id_for(report_id)}", headers=AS_OPERATOR
            )
            return response.json() if response.status_code == 200 else None

        return await eventually(probe, what=f"the case of {report_id}", timeout=20)

    async def cases(self, **filters: Any) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.base_url}/v1/cases", params=filters, headers=AS_OPERATOR
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["cases"]
        return found

    async def operate(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            f"{self.base_url}{path}",
            json={"operator": "op-wang", **body},
            headers={"X-Api-Key": OPERATOR_KEY},
        )

    async def as_department(
        self,
        credentials: Credentials | None,
        order_id: str,
        action: str,
        body: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"X-Api-Key": credentials.api_key} if credentials else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self.http.post(
            f"{self.base_url}/v1/orders/{order_id}/{action}", json=body, headers=headers
        )
