"""intake's repository against the real database: supporting reports follow their original."""

from __future__ import annotations

import uuid

import pytest

from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_intake.repository import ReportRepository

pytestmark = pytest.mark.integration


async def test_a_supporting_report_follows_its_originals_case_also_on_a_redelivery(
    isolated: Isolated, mongo_client: Client
) -> None:
    database = mongo_client[isolated.database("intake")]
    repository = ReportRepository(database["reports"], database["contacts"], database["erasures"])
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
