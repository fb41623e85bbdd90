"""pytest plugin: session infrastructure, a vhost and database names of each test's own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from gridloop_common.messaging.topology import declare_exchanges
from gridloop_common.mongo import Client, create_client
from gridloop_common.testing.infrastructure import (
    Infrastructure,
    VhostAdmin,
    provide_infrastructure,
    url_with_vhost,
)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    # No skip on purpose: missing infrastructure must fail the run loudly.
    with provide_infrastructure() as infra:
        yield infra


@dataclass(frozen=True)
class Isolated:
    """One test's private corner of the shared broker and database server."""

    rabbitmq_url: str
    mongodb_url: str
    management_url: str
    vhost: str
    prefix: str

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service.replace('-', '_')}"


@contextlib.contextmanager
def isolation(infrastructure: Infrastructure) -> Iterator[Isolated]:
    """A fresh vhost and database-name prefix; the vhost and every such database are removed."""
    token = uuid.uuid4().hex[:10]
    vhost = f"gridloop-test-{token}"
    admin = VhostAdmin(infrastructure.management_url)
    admin.create(vhost)
    try:
        yield Isolated(
            rabbitmq_url=url_with_vhost(infrastructure.rabbitmq_url, vhost),
            mongodb_url=infrastructure.mongodb_url,
            management_url=infrastructure.management_url,
            vhost=vhost,
            prefix=f"t{token}",
        )
    finally:
        admin.delete(vhost)
        _drop_databases(infrastructure.mongodb_url, f"t{token}")


def _drop_databases(url: str, prefix: str) -> None:
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, serverSelectionTimeoutMS=2_000) as client:
        try:
            for name in client.list_database_names():
                if name.startswith(prefix):
                    client.drop_database(name)
        except PyMongoError:
            pass  # a test that killed its own database server leaves nothing to drop


@pytest.fixture
def isolated(infrastructure: Infrastructure) -> Iterator[Isolated]:
    with isolation(infrastructure) as isolated:
        yield isolated


@pytest.fixture
async def mongo_client(isolated: Isolated) -> AsyncIterator[Client]:
    client = create_client(isolated.mongodb_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def amqp(isolated: Isolated) -> AsyncIterator[AbstractChannel]:
    """A channel on the test's own vhost that publishes as the services do (confirms, and an
    unroutable mandatory message raises), with gridloop's exchanges declared."""
    connection = await aio_pika.connect_robust(isolated.rabbitmq_url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await declare_exchanges(channel)
    yield channel
    await connection.close()
