"""pytest plugin: session infrastructure, a vhost and database names of each test's own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

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
    """A fresh vhost and database-name prefix, removed afterwards."""
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
        for name in await client.list_database_names():
            if name.startswith(isolated.prefix):
                await client.drop_database(name)
        await client.close()
