"""Fixtures shared by the test modules that run one dispatch process per module.

A module using them defines a module-scoped `shared` fixture, (Isolated, System), and imports
these names so pytest sees them there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.testing.fixtures import Isolated
from tests.integration.departments import Center, Departments
from tests.integration.system import System


@pytest.fixture(autouse=True)
def logs_on_failure(
    shared: tuple[Isolated, System], request: pytest.FixtureRequest
) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(shared[1].logs())


@pytest.fixture(scope="module")
async def departments(shared: tuple[Isolated, System]) -> AsyncIterator[Departments]:
    provisioned = Departments(shared[0])
    try:
        yield provisioned
    finally:
        await provisioned.delete_users()


@pytest.fixture(scope="module")
async def center(shared: tuple[Isolated, System]) -> AsyncIterator[Center]:
    async with httpx.AsyncClient(timeout=20) as http:
        yield Center(shared[1].url("dispatch"), http)


@pytest.fixture(scope="module")
async def amqp(shared: tuple[Isolated, System]) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect_robust(shared[0].rabbitmq_url)
    try:
        yield await connection.channel(publisher_confirms=True, on_return_raises=True)
    finally:
        await connection.close()
