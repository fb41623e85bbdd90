"""notify killed mid-broadcast (SIGKILL, a real process) resumes and reaches every household with
one delivery each: at least once, under one idempotency key per recipient. The sends of the last
flush before the kill may be repeated — always with the same key, so a receiver that honours it
acts once; what is proven is one key per household and every household reached, not one send."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from gridloop_common.mongo import Client
from gridloop_common.registry import load_registry
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink
from tests.integration.system import System
from tests.integration.test_notify_broadcast import completed, notify_env

pytestmark = pytest.mark.integration

TOWNSHIP = "twp-jialu"  # 甲路镇: 2,976 households in 148 chat groups, two expansion chunks


async def stored_batches(mongo: Client, isolated: Isolated, notice_id: str) -> list[dict[str, Any]]:
    batches = mongo[isolated.database("notify")]["batches"]
    return [b async for b in batches.find({"notice_id": notice_id})]


async def test_killing_notify_mid_broadcast_reaches_each_household_under_one_idempotency_key(
    system: System, isolated: Isolated, mongo_client: Client
) -> None:
    registry = load_registry()
    households = {
        h.contact: h.id
        for h in registry.households([g.id for g in registry.grids_of("township", [TOWNSHIP])])
    }
    async with HttpSink() as sink:
        # 1. Dies right after storing the first of two expansion chunks.
        env = notify_env(sink, NOTIFY_RATE_LIMITS="sms=700")
        system.start(["notify"], {**env, "GRIDLOOP_FAULT_POINT": "notify.expansion_chunk_stored"})
        first = system.processes["notify"]
        async with httpx.AsyncClient(
            base_url=first.base_url, headers=AS_OPERATOR, timeout=10
        ) as client:
            answer = await client.post(
                "/v1/notices",
                json={
                    "audience": {"level": "township", "ids": [TOWNSHIP]},
                    "title": "疫苗接种通知",
                    "body": "本周六在镇卫生院为65岁以上老人接种流感疫苗。",
                    "channels": ["sms"],
                },
            )
        assert answer.status_code == 202, answer.text
        notice_id = answer.json()["notice_id"]
        assert answer.json()["recipients"] == len(households) == 2_976
        assert first.wait_exit(timeout=20) == -9
        expanded = await stored_batches(mongo_client, isolated, notice_id)
        assert len(expanded) == 20  # the first 2,000 recipients

        # 2. Restarted: the expansion resumes; killed again while sending.
        system.start(["notify"], {**env, "GRIDLOOP_FAULT_POINT": ""})
        second = system.processes["notify"]

        async def a_third_sent() -> bool:
            return len(sink.accepted) >= len(households) // 3

        await eventually(a_third_sent, timeout=30, what="a third of the households told")
        second.kill()
        killed_at = len(sink.requests)
        recorded = {
            entry["delivery_id"]
            for batch in await stored_batches(mongo_client, isolated, notice_id)
            for entry in batch["entries"]
            if entry["status"] == "delivered"
        }
        assert 0 < len(recorded) < len(households)

        # 3. Restarted again: the rest goes out.
        system.start(["notify"], {**env, "GRIDLOOP_FAULT_POINT": ""})
        async with httpx.AsyncClient(
            base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
        ) as client:
            notice = await completed(client, notice_id, timeout=60)

    assert notice["totals"]["delivered"] == len(households)
    assert (notice["totals"]["failed"], notice["totals"]["pending"]) == (0, 0)
    keys_per_phone: dict[str, set[str]] = defaultdict(set)
    for request in sink.requests:
        keys_per_phone[request.json()["to"]].add(request.key)
    # Every household got the notice, under exactly one idempotency key...
    assert set(keys_per_phone) == set(households)
    assert {len(keys) for keys in keys_per_phone.values()} == {1}
    assert len(sink.accepted) == len(households)
    # ...and nothing stored as delivered before the kill was sent again after it. Only sends
    # whose outcome the kill kept from being stored are repeated, under their same key.
    after_kill = {r.key for r in sink.requests[killed_at:]}
    assert not after_kill & recorded
    assert set(sink.repeats) <= after_kill
