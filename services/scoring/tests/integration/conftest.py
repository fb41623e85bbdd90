"""scoring in-process against the real broker and database, with an HTTP client on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from gridloop_common.clock import Clock
from gridloop_common.contracts import Message
from gridloop_common.messaging import Outgoing, Publisher
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_scoring.app import create_app
from gridloop_scoring.bootstrap import ScoringDeps
from gridloop_scoring.settings import ScoringSettings


@dataclass
class Scoring:
    deps: ScoringDeps
    http: httpx.AsyncClient
    publisher: Publisher

    async def publish(self, outgoing: Outgoing) -> None:
        await self.publisher.publish(outgoing)

    def handled(self, message: type[Message]) -> float:
        value = self.deps.runtime.metrics.registry.get_sample_value(
            "gridloop_messages_total",
            {"service": "scoring", "type": message.TYPE, "outcome": "handled"},
        )
        return value or 0.0

    async def settled(self, deliveries: int, *types: type[Message], timeout: float = 30.0) -> None:
        """Wait until `deliveries` messages of these types were handled and nothing is marked."""

        async def done() -> bool:
            if sum(self.handled(t) for t in types) < deliveries:
                return False
            return await self.deps.recomputer.backlog() == 0

        await eventually(
            done, timeout=timeout, what=f"{deliveries} deliveries handled and figures current"
        )

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def entity(self, level: str, entity_id: str, period: str) -> dict[str, Any]:
        return await self.get(f"/v1/entities/{level}/{entity_id}", period=period)


def scoring_settings(isolated: Isolated, **overrides: Any) -> ScoringSettings:
    values: dict[str, Any] = {
        "rabbitmq_url": isolated.rabbitmq_url,
        "mongodb_url": isolated.mongodb_url,
        "mongodb_database": isolated.database("scoring"),
        "recompute_interval_seconds": 0.05,
        "recompute_delay_seconds": 0.05,
        # Areas' and departments' marks wait for ticks of a fifth of a second (recompute.due_at).
        "recompute_gather_seconds": 0.2,
        "outbox_grace_seconds": 0.5,
        "outbox_sweep_interval_seconds": 0.2,
        **overrides,
    }
    return ScoringSettings(**values)


@asynccontextmanager
async def running_scoring(
    settings: ScoringSettings, clock: Clock | None = None
) -> AsyncIterator[Scoring]:
    app = create_app(settings, clock)
    deps: ScoringDeps = app.state.deps
    # Started here rather than by the lifespan, which ASGITransport does not run.
    await deps.runtime.start()
    connection: AbstractRobustConnection = await aio_pika.connect_robust(settings.rabbitmq_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scoring"
        ) as http:
            yield Scoring(deps, http, Publisher(channel, app_id="test"))
    finally:
        await connection.close()
        await deps.runtime.stop()


@pytest.fixture
async def scoring(isolated: Isolated, mongo_client: Client) -> AsyncIterator[Scoring]:
    # mongo_client is requested so the test's databases are dropped afterwards.
    async with running_scoring(scoring_settings(isolated)) as running:
        yield running
