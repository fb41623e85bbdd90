"""Duplicate candidates against the real database: many reports' lookups in one query, each
report still getting exactly the open originals of its category, township and window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridloop_common.mongo import Client, Collection
from gridloop_common.testing.fixtures import Isolated
from gridloop_intake.repository import candidates
from gridloop_intake.repository.candidates import DUPLICATE_KEY, DuplicateCandidates, duplicate_key

pytestmark = pytest.mark.integration

# Ten minutes past midnight UTC: a day's window reaches back into the previous UTC day.
AROUND = datetime(2026, 11, 26, 0, 10, tzinfo=UTC)
DAY = timedelta(hours=24)


def report(
    report_id: str, category: str, township: str, reported_at: datetime, status: str = "received"
) -> dict[str, Any]:
    return {
        "_id": report_id,
        "category_code": category,
        "township_id": township,
        DUPLICATE_KEY: duplicate_key(category, township, reported_at),
        "grid_id": f"{township}-g1",
        "reported_at": reported_at,
        "description": f"{category} {report_id}",
        "location": {"lat": 30.63, "lon": 118.98},
        "status": status,
    }


@pytest.fixture
async def reports(isolated: Isolated, mongo_client: Client) -> Collection:
    collection = mongo_client[isolated.database("intake")]["reports"]
    await collection.create_index([(DUPLICATE_KEY, 1)])
    await collection.insert_many(
        [
            report("yesterday", "road-damage", "t1", AROUND - timedelta(hours=23)),
            report("today", "road-damage", "t1", AROUND),
            report("later-today", "road-damage", "t1", AROUND + timedelta(hours=20)),
            report("too-old", "road-damage", "t1", AROUND - timedelta(hours=25)),
            report("closed", "road-damage", "t1", AROUND - timedelta(hours=1), "closed"),
            report("itself-linked", "road-damage", "t1", AROUND - timedelta(hours=1), "linked"),
            report("other-township", "road-damage", "t2", AROUND),
            report("other-category", "street-light", "t1", AROUND),
            report("light-t2", "street-light", "t2", AROUND - timedelta(hours=2)),
        ]
    )
    return collection


def ids(found: list[Any]) -> set[str]:
    return {candidate.report_id for candidate in found}


def counting(lookups: DuplicateCandidates) -> list[list[str]]:
    """Record the keys of every query the lookups send."""
    asked: list[list[str]] = []
    find = lookups._find

    async def counting_find(keys: list[str], limit: int) -> list[dict[str, Any]]:
        asked.append(keys)
        return await find(keys, limit)

    lookups._find = counting_find  # type: ignore[method-assign]
    return asked


async def test_concurrent_lookups_share_queries_and_each_gets_only_its_own_candidates(
    reports: Collection,
) -> None:
    lookups = DuplicateCandidates(reports)
    asked = counting(lookups)
    road_t1, road_t2, light_t2, light_t3 = await asyncio.gather(
        lookups.open_reports("road-damage", "t1", AROUND, DAY),
        lookups.open_reports("road-damage", "t2", AROUND, DAY),
        lookups.open_reports("street-light", "t2", AROUND, DAY),
        lookups.open_reports("street-light", "t3", AROUND, DAY),
    )
    # Across UTC midnight and after the time asked about, within the window; not beyond it,
    # not closed, not a supporting report itself, not another township or category.
    assert ids(road_t1) == {"yesterday", "today", "later-today"}
    assert ids(road_t2) == {"other-township"}
    assert ids(light_t2) == {"light-t2"}
    assert ids(light_t3) == set()
    # Asked together, looked up together: one query, four reports' keys, three UTC days each.
    assert len(asked) == 1
    assert len(asked[0]) == 4 * 3


async def test_a_lookup_that_fills_its_limit_is_asked_again_report_by_report(
    reports: Collection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(candidates, "PER_REPORT_LIMIT", 2)
    lookups = DuplicateCandidates(reports)
    asked = counting(lookups)
    # Together these two match six documents, over their limit of 2 x 2 when asked as one; apart,
    # each gets at most two, and the lone street light is not crowded out by the road damage.
    road_t1, light_t2 = await asyncio.gather(
        lookups.open_reports("road-damage", "t1", AROUND, DAY),
        lookups.open_reports("street-light", "t2", AROUND, DAY),
    )
    assert len(asked) == 3 and [len(keys) for keys in asked[1:]] == [3, 3]
    assert len(road_t1) <= 2 and ids(road_t1) <= {"yesterday", "today", "later-today"}
    assert ids(light_t2) == {"light-t2"}
