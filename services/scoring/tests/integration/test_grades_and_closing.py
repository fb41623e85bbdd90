"""Quarterly grades over HTTP, a closing period announcing its commendations, and the rebuild
command putting back a figure that was tampered with."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from gridloop_common.clock import ManualClock
from gridloop_common.contracts import CaseClosed, CaseCompleted, CaseDispatched
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_scoring.__main__ import run_rebuild
from gridloop_scoring.repository import FIGURES

from .conftest import Scoring, running_scoring, scoring_settings
from .test_scoring import NOVEMBER, new_department, new_order

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)


async def test_ten_departments_are_graded_one_two_seven_with_the_score_explained(
    scoring: Scoring,
) -> None:
    departments = sorted(new_department() for _ in range(10))
    # Department i completes its order in (i + 1) days of a 5-day limit: the first five on time.
    for i, department in enumerate(departments):
        order = new_order(department)
        await scoring.publish(order.dispatched(NOVEMBER))
        await scoring.publish(order.completed(NOVEMBER + (i + 1) * DAY - timedelta(hours=1)))
    await scoring.settled(20, CaseDispatched, CaseCompleted)

    grades = await scoring.get("/v1/grades", period="2026-Q4", level="department")
    assert grades["seats"] == {"excellent": 1, "good": 2, "pass": 7}
    entries = grades["entries"]
    assert [e["grade"] for e in entries] == ["excellent", "good", "good"] + ["pass"] * 7
    # Orders complete by dispatch + 3 days (the test's complete-by): three on time, all equal.
    on_time = departments[:3]
    assert {e["entity_id"] for e in entries[:3]} == set(on_time)
    assert [e["entity_id"] for e in entries[:3]] == on_time  # equal scores: by id
    assert entries[0]["separated_from_next_by"] == "entity_id"
    assert entries[2]["separated_from_next_by"] == "score"
    parts = {p["metric"]: p for p in entries[0]["parts"]}
    assert parts["on_time_completion_rate"]["normalised"] == 1.0
    assert parts["on_time_completion_rate"]["weight"] == 3.0
    assert sum(p["points"] for p in entries[0]["parts"]) / sum(
        p["weight"] for p in entries[0]["parts"]
    ) * 100 == pytest.approx(entries[0]["score"])


async def test_a_closed_month_announces_its_excellent_cases_and_top_performers(
    isolated: Isolated, mongo_client: Client
) -> None:
    clock = ManualClock(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    # The clock stands still here: marks are due at once, not after a delay of its time.
    settings = scoring_settings(
        isolated, close_check_interval_seconds=0.1, recompute_delay_seconds=0
    )
    async with running_scoring(settings, clock) as scoring:
        channel = await (await aio_pika.connect_robust(isolated.rabbitmq_url)).channel()
        announcements = await channel.declare_queue(exclusive=True)
        await announcements.bind("gridloop.events", "scoring.period_closed.#")
        fast, slow = new_department(), new_department()
        published = 0
        for department, took in ((fast, DAY), (slow, 2 * DAY), (fast, 2 * DAY)):
            order = new_order(department)
            await scoring.publish(order.dispatched(NOVEMBER))
            await scoring.publish(order.completed(NOVEMBER + took))
            await scoring.publish(order.closed(NOVEMBER + took + DAY, satisfied=True))
            published += 3
        await scoring.settled(published, CaseDispatched, CaseCompleted, CaseClosed)
        november = await scoring.get("/v1/periods/2026-11")
        assert november["closed"] is False

        # November ends at 16:00 UTC on 30 November (midnight in Shanghai); one day's grace.
        clock.set(datetime(2026, 12, 1, 16, 0, 1, tzinfo=UTC))
        message = await _next(announcements)
        event = json.loads(message.body)
        assert event["type"] == "org.gridloop.scoring.period_closed.v1"
        data = event["data"]
        assert (data["period"], data["granularity"]) == ("2026-11", "month")
        # A third of the 3-day limit beats two thirds; the slow department's case comes after.
        shares = [c["share_of_limit"] for c in data["excellent_cases"]]
        assert shares == sorted(shares) and shares[0] == pytest.approx(1 / 3, abs=1e-4)
        assert data["excellent_cases"][0]["department"] == fast
        tops = [(p["level"], p["entity_id"], p["rank"]) for p in data["top_performers"]]
        assert ("department", fast, 1) in tops and ("department", slow, 2) in tops
        closed = await scoring.get("/v1/periods/2026-11")
        assert closed["closed"] is True
        assert closed["commendations"]["excellent_cases"] == data["excellent_cases"]
        # The quarter is not over: not closed, nothing else announced.
        assert (await scoring.get("/v1/periods/2026-Q4"))["closed"] is False
        await channel.close()


async def _next(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    for _ in range(100):
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.1)
    raise AssertionError("no scoring.period_closed within 10 s")


async def test_rebuild_finds_and_repairs_a_figure_that_was_tampered_with(
    scoring: Scoring, mongo_client: Client
) -> None:
    department = new_department()
    order = new_order(department)
    await scoring.publish(order.dispatched(NOVEMBER))
    await scoring.publish(order.completed(NOVEMBER + DAY))
    await scoring.settled(2, CaseDispatched, CaseCompleted)
    settings = scoring.deps.settings
    assert await run_rebuild(settings, check=True) == 0

    figures = mongo_client[settings.database_name][FIGURES]
    tampered = await figures.update_one(
        {"_id": f"department:{department}|2026-11"}, {"$set": {"counts.handled": 99}}
    )
    assert tampered.modified_count == 1
    assert await run_rebuild(settings, check=True) == 1
    assert await run_rebuild(settings, check=False) == 0
    assert await run_rebuild(settings, check=True) == 0
    metrics = (await scoring.entity("department", department, "2026-11"))["metrics"]
    assert metrics["handled"] == {"value": 1}
