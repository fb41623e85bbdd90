"""scoring against the real broker and database: events become facts once, counted over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from gridloop_common.contracts import CaseAccepted, CaseDispatched, Message, SlaBreached
from gridloop_common.messaging import Outgoing, Publisher, envelope
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_scoring.app import create_app
from gridloop_scoring.bootstrap import ScoringDeps
from gridloop_scoring.settings import ScoringSettings

pytestmark = pytest.mark.integration

# 01:00 on 1 November in Shanghai, and 23:00 on 31 October there: one hour and one month apart.
NOVEMBER = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)


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

    async def counts(self, department: str, **params: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/departments/{department}/counts", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def scoring(isolated: Isolated, mongo_client: Client) -> AsyncIterator[Scoring]:
    # mongo_client is requested so the test's databases are dropped afterwards.
    settings = ScoringSettings(
        rabbitmq_url=isolated.rabbitmq_url,
        mongodb_url=isolated.mongodb_url,
        mongodb_database=isolated.database("scoring"),
    )
    app = create_app(settings)
    deps: ScoringDeps = app.state.deps
    # Started here rather than by the lifespan, which ASGITransport does not run.
    await deps.runtime.start()
    connection: AbstractRobustConnection = await aio_pika.connect_robust(isolated.rabbitmq_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scoring"
        ) as http:
            yield Scoring(deps, http, Publisher(channel, app_id="test"))
    finally:
        await connection.close()
        await deps.runtime.stop()


def case_fields(department: str) -> dict[str, str]:
    token = uuid.uuid4().hex[:8]
    return {
        "case_id": f"C-{token}",
        "order_id": f"O-{token}",
        "department": department,
        "category_code": "road-damage",
        "grid_id": "g-17",
    }


def dispatched(department: str, at: datetime) -> Outgoing:
    event = CaseDispatched(
        **case_fields(department),
        dispatched_at=at,
        accept_by=at + timedelta(hours=8),
        complete_by=at + timedelta(days=3),
    )
    return envelope(event, source="gridloop/dispatch", time=at)


def accepted(department: str, at: datetime) -> Outgoing:
    event = CaseAccepted(**case_fields(department), accepted_at=at)
    return envelope(event, source="gridloop/dispatch", time=at)


def breached(department: str, at: datetime) -> Outgoing:
    fields = case_fields(department)
    event = SlaBreached(
        order_id=fields["order_id"],
        case_id=fields["case_id"],
        department=department,
        clock="accept",
        deadline=at - timedelta(minutes=10),
        fired_at=at,
        late_seconds=600.0,
    )
    return envelope(event, source="gridloop/sla-monitor", time=at)


async def test_a_redelivered_event_is_counted_once(scoring: Scoring) -> None:
    department = f"dept-{uuid.uuid4().hex[:8]}"
    first = dispatched(department, NOVEMBER)
    await scoring.publish(first)
    await scoring.publish(dispatched(department, NOVEMBER))
    # Same envelope, same CloudEvent id: what the outbox relay sends again after a crash.
    await scoring.publish(first)
    await scoring.publish(accepted(department, NOVEMBER))
    await scoring.publish(breached(department, NOVEMBER))
    await scoring.publish(dispatched("someone-else", NOVEMBER))

    # Wait until every delivery, the repeat included, has been handled and acked; only then
    # can a double count have happened.
    kinds = (CaseDispatched, CaseAccepted, SlaBreached)
    await eventually(
        lambda: _ready(sum(scoring.handled(kind) for kind in kinds) == 6),
        what="all six deliveries handled",
    )
    assert await scoring.counts(department) == {
        "department": department,
        "dispatched": 2,
        "accepted": 1,
        "breaches": 1,
    }


async def test_period_counts_follow_the_shanghai_month_of_occurrence(scoring: Scoring) -> None:
    department = f"dept-{uuid.uuid4().hex[:8]}"
    await scoring.publish(dispatched(department, NOVEMBER))
    await scoring.publish(dispatched(department, OCTOBER))
    await scoring.publish(accepted(department, NOVEMBER))

    async def all_stored() -> dict[str, Any] | None:
        counts = await scoring.counts(department)
        return counts if (counts["dispatched"], counts["accepted"]) == (2, 1) else None

    await eventually(all_stored, what="three facts stored")
    assert await scoring.counts(department, period="2026-11") == {
        "department": department,
        "dispatched": 1,
        "accepted": 1,
        "breaches": 0,
        "period": "2026-11",
    }
    october = await scoring.counts(department, period="2026-10")
    assert (october["dispatched"], october["accepted"]) == (1, 0)
    quarter = await scoring.counts(department, period="2026-Q4")
    assert (quarter["dispatched"], quarter["accepted"]) == (2, 1)


async def test_a_malformed_period_is_refused_naming_the_expected_formats(
    scoring: Scoring,
) -> None:
    response = await scoring.http.get(
        "/v1/departments/city-mgmt/counts", params={"period": "2026-13"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_period"
    assert body["parameter"] == "period"
    assert body["expected_formats"] == ["YYYY-MM", "YYYY-Qn", "YYYY"]


async def _ready(condition: bool) -> bool:
    return condition
