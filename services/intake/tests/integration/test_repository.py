"""intake's repository against the real database: shared insert commands, supporting reports."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_intake.repository import BatchedInserts, ReportRepository

pytestmark = pytest.mark.integration


async def test_reports_stored_in_one_burst_each_learn_whether_they_were_stored(
    isolated: Isolated, mongo_client: Client
) -> None:
    reports = mongo_client[isolated.database("intake")]["reports"]
    taken = f"R-{uuid.uuid4().hex[:16]}"
    await reports.insert_one({"_id": taken})
    fresh = [f"R-{uuid.uuid4().hex[:16]}" for _ in range(20)]
    inserts = BatchedInserts(reports)

    # A retry racing its first attempt (fresh[0] twice) and a retry of a stored report (taken).
    outcomes = await asyncio.gather(
        *(inserts.insert({"_id": report_id}) for report_id in [*fresh, taken, fresh[0]])
    )

    assert outcomes == [True] * 20 + [False, False]
    assert await reports.count_documents({"_id": {"$in": fresh}}) == 20


async def test_reports_inserted_one_after_another_are_stored_and_a_repeated_id_refused(
    isolated: Isolated, mongo_client: Client
) -> None:
    reports = mongo_client[isolated.database("intake")]["reports"]
    inserts = BatchedInserts(reports)
    first, second = (f"R-{uuid.uuid4().hex[:16]}" for _ in range(2))
    assert await inserts.insert({"_id": first}) is True
    assert await inserts.insert({"_id": second}) is True
    assert await inserts.insert({"_id": first}) is False


async def test_a_supporting_report_follows_its_originals_case_also_on_a_redelivery(
    isolated: Isolated, mongo_client: Client
) -> None:
    database = mongo_client[isolated.database("intake")]
    repository = ReportRepository(database["reports"], database["contacts"])
    original, supporting = (f"R-{uuid.uuid4().hex[:16]}" for _ in range(2))
    await database["reports"].insert_one({"_id": original, "status": "received", "status_rank": 0})
    state = await repository.add_supporter(original, supporting)
    assert state == {"case_status": "received", "case_rank": 0}
    await database["reports"].insert_one({"_id": supporting, "status": "linked", **state})

    fields = {"case_id": "C-1", "department": "dept-urban"}
    # As if a first delivery had updated the original and crashed before its supporters.
    await database["reports"].update_one(
        {"_id": original},
        {"$set": {"status": "dispatched", "status_rank": 1}, "$push": {"applied_events": "e-1"}},
    )
    await repository.record_case_status(original, "e-1", "dispatched", fields)
    await repository.record_case_status(original, "e-1", "dispatched", fields)

    stored = await database["reports"].find_one({"_id": supporting})
    assert stored is not None
    assert stored["status"] == "linked"
    assert (stored["case_status"], stored["case_id"]) == ("dispatched", "C-1")
    assert stored["applied_events"] == ["e-1"]
    # An earlier status arriving late changes neither report.
    await repository.record_case_status(original, "e-0", "received", {"case_id": "C-0"})
    assert (await database["reports"].find_one({"_id": original}) or {})["status"] == "dispatched"
    assert (await database["reports"].find_one({"_id": supporting}) or {})["case_id"] == "C-1"
