"""Batched inserts against the real database: every caller learns its own outcome."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gridloop_common.batched_inserts import BatchedInserts
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated

pytestmark = pytest.mark.integration


async def test_reports_stored_in_one_burst_each_learn_whether_they_were_stored(
    isolated: Isolated, mongo_client: Client
) -> None:
    reports = mongo_client[isolated.database("batched")]["reports"]
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
    reports = mongo_client[isolated.database("batched")]["reports"]
    inserts = BatchedInserts(reports)
    first, second = (f"R-{uuid.uuid4().hex[:16]}" for _ in range(2))
    assert await inserts.insert({"_id": first}) is True
    assert await inserts.insert({"_id": second}) is True
    assert await inserts.insert({"_id": first}) is False
