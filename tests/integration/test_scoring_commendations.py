"""scoring and notify as processes: a month closes, scoring publishes its commendations and
notify announces them to the city (here: its one notice subscriber)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import CaseClosed, CaseCompleted, CaseDispatched
from gridloop_common.contracts.base import Event
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink
from tests.integration.system import GRID, System
from tests.integration.test_notify_broadcast import FAST_NOTIFY
from tests.integration.test_notify_feedback import publish

pytestmark = pytest.mark.integration

# October 2026 in Ningguo: over, so with no grace it closes at scoring's next look.
DISPATCHED = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
SCORING = {
    "CLOSE_GRACE_SECONDS": "0",
    # One look at start-up only: the test decides when scoring looks (by restarting it), so the
    # month cannot close before all its facts are in.
    "CLOSE_CHECK_INTERVAL_SECONDS": "3600",
}


def order_life(department: str, took: timedelta) -> list[Event]:
    token = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "case_id": f"C-{token}",
        "order_id": f"O-{token}",
        "department": department,
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": "twp-xijin",
    }
    completed = DISPATCHED + took
    return [
        CaseDispatched(
            **fields,
            dispatched_at=DISPATCHED,
            accept_by=DISPATCHED + timedelta(hours=8),
            complete_by=DISPATCHED + timedelta(days=4),
        ),
        CaseCompleted(**fields, completed_at=completed, handler="Wang Lei"),
        CaseClosed(**fields, closed_at=completed + timedelta(hours=2), satisfied=True),
    ]


async def test_a_closed_month_is_announced_by_notify_with_scorings_commendations(
    system: System, amqp: AbstractChannel
) -> None:
    async with HttpSink() as sink:
        system.start(["scoring", "notify"], {**FAST_NOTIFY, **SCORING})
        async with httpx.AsyncClient(headers=AS_OPERATOR, timeout=10) as client:
            news = await client.post(
                f"{system.url('notify')}/v1/subscriptions",
                json={
                    "events": ["notice"],
                    "endpoint": {"kind": "webhook", "url": sink.url("/news")},
                },
            )
            assert news.status_code == 201, news.text
            # city-mgmt: two cases, one done in a day of its four; water: one in three days.
            await publish(
                amqp,
                *order_life("city-mgmt", timedelta(days=1)),
                *order_life("city-mgmt", timedelta(days=2)),
                *order_life("water", timedelta(days=3)),
            )
            scoring = system.url("scoring")

            async def scored() -> bool:
                status = (await client.get(f"{scoring}/v1/status")).json()
                figures = await client.get(
                    f"{scoring}/v1/entities/department/city-mgmt", params={"period": "2026-10"}
                )
                if figures.status_code != 200:
                    return False  # 404 until the first figure of the department is written
                handled = figures.json()["metrics"]["handled"]["value"]
                return bool(status["current"]) and handled == 2

            await eventually(scored, what="scoring's October figures")
            assert (await client.get(f"{scoring}/v1/periods/2026-10")).json()["closed"] is False

            # Restarted, scoring looks at its periods once: October is over and closes.
            system.processes["scoring"].stop()
            system.start(["scoring"], SCORING)
            closed = await eventually(
                lambda: _closed(client, system.url("scoring")), what="October closed"
            )
            announced = await eventually(
                lambda: _announced(sink), what="notify's announcement of October"
            )

    commendations = closed["commendations"]
    assert [c["department"] for c in commendations["excellent_cases"]] == [
        "city-mgmt",
        "city-mgmt",
        "water",
    ]
    tops = {(p["level"], p["entity_id"], p["rank"]) for p in commendations["top_performers"]}
    assert {("department", "city-mgmt", 1), ("department", "water", 2)} <= tops
    assert ("handler", "city-mgmt:Wang Lei", 1) in tops
    # notify announced exactly what scoring decided.
    assert announced["kind"] == "commendation"
    assert announced["period"] == "2026-10"
    assert announced["excellent_cases"] == commendations["excellent_cases"]
    assert announced["top_performers"] == commendations["top_performers"]


async def _closed(client: httpx.AsyncClient, scoring: str) -> dict[str, Any] | None:
    period: dict[str, Any] = (await client.get(f"{scoring}/v1/periods/2026-10")).json()
    return period if period.get("closed") else None


async def _announced(sink: HttpSink) -> dict[str, Any] | None:
    bodies = list(sink.accepted_on("/news").values())
    return bodies[0] if bodies else None
