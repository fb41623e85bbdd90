"""Reports stored by an earlier intake are brought up to date once, and then found as duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.clock import ManualClock
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_intake.repository.candidates import DUPLICATE_KEY, DuplicateCandidates
from gridloop_intake.repository.upgrades import UPGRADES, StoredReportUpgrades

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def old_report(report_id: str, reported_at: datetime, **extra: object) -> dict[str, object]:
    """A report as intake stored it before duplicate keys and supporters lists."""
    return {
        "_id": report_id,
        "channel": "native",
        "category_code": "road-damage",
        "township_id": "t1",
        "grid_id": "t1-g1",
        "reported_at": reported_at,
        "description": "路面坑洼",
        "location": {"lat": 30.63, "lon": 118.98},
        "status": "received",
        **extra,
    }


async def test_stored_reports_are_upgraded_once_and_then_attract_duplicates(
    isolated: Isolated, mongo_client: Client
) -> None:
    database = mongo_client[isolated.database("intake")]
    reports = database["reports"]
    await reports.create_index([("channel", 1), ("reported_at", -1)])
    await reports.create_index([("category_code", 1), ("township_id", 1), ("reported_at", -1)])
    await reports.create_index([("linked_to", 1)])
    await reports.insert_many(
        [
            old_report("recent", NOW - timedelta(hours=3)),
            old_report("supporting", NOW - timedelta(hours=2), status="linked", linked_to="recent"),
            old_report("last-month", NOW - timedelta(days=30)),
        ]
    )

    upgrades = StoredReportUpgrades(database, ManualClock(NOW))
    await upgrades.run()

    recent = await reports.find_one({"_id": "recent"})
    assert recent is not None
    assert recent[DUPLICATE_KEY] == "road-damage@t1@2026-11-26"
    assert recent["supporters"] == ["supporting"]
    # Too old to attract a duplicate under any category's window: left as it was.
    assert DUPLICATE_KEY not in (await reports.find_one({"_id": "last-month"}) or {})
    assert set(await reports.index_information()) == {"_id_", "channel_1_reported_at_-1"}
    assert await database[UPGRADES].count_documents({}) == 3

    # Done once: a second start skips every step (nothing is rewritten).
    await reports.update_one({"_id": "recent"}, {"$unset": {DUPLICATE_KEY: ""}})
    await upgrades.run()
    assert DUPLICATE_KEY not in (await reports.find_one({"_id": "recent"}) or {})
    await reports.update_one(
        {"_id": "recent"}, {"$set": {DUPLICATE_KEY: "road-damage@t1@2026-11-26"}}
    )

    found = await DuplicateCandidates(reports).open_reports(
        "road-damage", "t1", NOW, timedelta(hours=24)
    )
    assert [candidate.report_id for candidate in found] == ["recent"]
