"""A message that kills its consumer on every delivery is parked after DELIVERY_LIMIT crashes;
the messages that shared the dead process's prefetch are handled, none of them parked."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import ReportReceived
from gridloop_common.messaging import REASON_HEADER, Publisher, dead_queue, envelope
from gridloop_common.mongo import Client
from gridloop_common.testing.parking import road_damage_report
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.secantus import free_port
from gridloop_common.testing.supervisor import Program, Supervisor, python_module
from tests.integration.system import GRID, System

pytestmark = pytest.mark.integration

DELIVERY_LIMIT = 3


def report(description: str) -> ReportReceived:
    return road_damage_report(description, GRID)[0]


async def test_a_message_that_kills_dispatch_every_time_is_parked_and_nothing_else_is(
    system: System, amqp: AbstractChannel, mongo_client: Client, tmp_path: Path
) -> None:
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    restarts: list[str] = []
    supervisor = Supervisor(restarts.append, backoff=(0.5, 1.0, 2.0))
    port = free_port()
    env = system.service_env(
        "dispatch",
        {"GRIDLOOP_FAULT_POISON": marker, "DELIVERY_LIMIT": str(DELIVERY_LIMIT), "PREFETCH": "32"},
    )
    supervisor.add(
        Program(
            "dispatch",
            python_module("gridloop_dispatch"),
            {**os.environ, **env, "HTTP_PORT": str(port), "LOG_FORMAT": "json"},
            log_path=tmp_path / "dispatch.log",
        )
    )
    supervisor.start("dispatch")

    async def supervise() -> None:
        while True:
            supervisor.poll()
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(supervise())
    try:
        cases = mongo_client[system.isolated.database("dispatch")]["cases"]

        async def ready() -> bool:
            async with httpx.AsyncClient(timeout=1) as client:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                except httpx.HTTPError:
                    return False
            return answer.status_code == 200

        await eventually(ready, timeout=60, what="dispatch ready (inbox bound)")
        publisher = Publisher(amqp, app_id="test")
        good = [report(f"路面坑洼 {n}") for n in range(20)]
        poison = report(f"路面坑洼 {marker}")
        batch = [*good[:10], poison, *good[10:]]
        await publisher.publish_all(
            envelope(r, source="test", time=datetime.now(UTC)) for r in batch
        )

        dead = await amqp.get_queue(dead_queue("dispatch"))
        parked = await eventually(
            lambda: dead.get(fail=False, no_ack=True), timeout=120, what="the poison parked"
        )
        assert json.loads(parked.body)["data"]["report_id"] == poison.report_id
        assert "killed its consumer" in str((parked.headers or {})[REASON_HEADER])

        async def every_good_case() -> bool:
            ids = [r.report_id for r in good]
            return await cases.count_documents({"report_id": {"$in": ids}}) == len(good)

        await eventually(every_good_case, timeout=60, what="a case for every good report")
        assert await dead.get(fail=False) is None, "only the poison is parked"
        assert await cases.count_documents({"report_id": poison.report_id}) == 0
        crashes = [line for line in restarts if "exited with SIGKILL" in line]
        assert len(crashes) == DELIVERY_LIMIT, restarts
        assert supervisor.programs["dispatch"].running, "dispatch runs on after parking it"
    finally:
        watcher.cancel()
        supervisor.stop_all()
