"""Every command a service sends to its database is counted on /metrics, by name and collection."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from gridloop_common.metrics import ServiceMetrics
from gridloop_common.mongo import create_client
from gridloop_common.testing.fixtures import Isolated

pytestmark = pytest.mark.integration


def counted(metrics: ServiceMetrics) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "gridloop_db_commands_total":
                found[(sample.labels["command"], sample.labels["collection"])] = sample.value
    return found


async def test_commands_are_counted_by_name_and_collection_over_the_wire(
    isolated: Isolated,
) -> None:
    metrics = ServiceMetrics("probe")
    client = create_client(isolated.mongodb_url, listeners=[metrics.database_commands])
    reports = client[isolated.database("commands")]["reports"]
    try:
        await reports.insert_one({"_id": "R-1"})
        await reports.find_one({"_id": "R-1"})
        await reports.find_one({"_id": "R-2"})
        await reports.update_one({"_id": "R-1"}, {"$set": {"status": "linked"}})
    finally:
        await client.close()

    commands = counted(metrics)
    assert commands[("insert", "reports")] == 1
    assert commands[("find", "reports")] == 2
    assert commands[("update", "reports")] == 1
    assert b"gridloop_db_commands_total" in generate_latest(metrics.registry)
