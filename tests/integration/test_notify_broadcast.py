"""One-click notices through notify as a real process, to local HTTP sinks."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import httpx
import pytest

from gridloop_common.registry import load_registry
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink
from tests.integration.system import System

pytestmark = pytest.mark.integration

# Short leases and back-offs so a crash or a retry resolves in test time.
FAST_NOTIFY = {
    "NOTIFY_LEASE_SECONDS": "2",
    "NOTIFY_FLUSH_SECONDS": "0.2",
    "NOTIFY_POLL_SECONDS": "0.2",
    "NOTIFY_RETRY_BASE_SECONDS": "0.05",
    "NOTIFY_RETRY_MAX_SECONDS": "0.4",
    "NOTIFY_RATE_LIMITS": "chat_group=0,sms=0,webhook=0",
}


def notify_env(sink: HttpSink, **extra: str) -> dict[str, str]:
    return {
        **FAST_NOTIFY,
        "NOTIFY_CHAT_GROUP_WEBHOOK_URL": sink.url("/chat"),
        "NOTIFY_SMS_GATEWAY_URL": sink.url("/sms"),
        **extra,
    }


async def completed(
    client: httpx.AsyncClient, notice_id: str, timeout: float = 180
) -> dict[str, Any]:
    # 6-10 s alone. One CI run saw no completion within 60 s: a worker's flusher lost its cancel
    # inside pymongo (Python 3.11's asyncio.wait_for) and renewed a sent batch's lease for ever;
    # fixed in notify's worker, and the quiet-notice sweep now closes such a batch. A generous
    # bound still, so a slow machine is not a red build and a real stall still fails.
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v1/notices/{notice_id}")).json()
        return body if body["status"] == "completed" else None

    return await eventually(
        probe, timeout=timeout, interval=0.25, what=f"notice {notice_id} completed"
    )


async def test_a_city_wide_notice_reaches_every_chat_group_exactly_once(system: System) -> None:
    groups = {group.id for group in load_registry().chat_groups}
    assert len(groups) == 3_413
    async with HttpSink() as sink:
        system.start(["notify"], notify_env(sink))
        async with httpx.AsyncClient(
            base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
        ) as client:
            request = {
                "audience": {"level": "city"},
                "title": "防汛通知",
                "body": "今晚有强降雨，请居民减少外出。",
                "channels": ["chat_group"],
            }
            headers = {"Idempotency-Key": "flood-warning-2026-11-26"}
            # A city-wide notice is the center's to send: a caller without its key gets 401.
            for key in ("", "not-the-operator-key"):
                refused = await client.post(
                    "/v1/notices", json=request, headers={**headers, "X-Api-Key": key}
                )
                assert refused.status_code == 401, refused.text
            answer = await client.post("/v1/notices", json=request, headers=headers)
            assert answer.status_code == 202, answer.text
            notice_id = answer.json()["notice_id"]
            assert answer.json()["recipients"] == 3_413
            assert answer.headers["Location"] == f"/v1/notices/{notice_id}"

            replay = await client.post("/v1/notices", json=request, headers=headers)
            assert replay.status_code == 202
            assert replay.json()["notice_id"] == notice_id
            assert replay.headers["Idempotent-Replayed"] == "true"
            reused = await client.post(
                "/v1/notices", json={**request, "title": "另一个通知"}, headers=headers
            )
            assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")

            notice = await completed(client, notice_id)
            last_page = (
                await client.get(f"/v1/notices/{notice_id}", params={"offset": 3_400})
            ).json()

    assert notice["totals"] == {
        "recipients": 3_413,
        "delivered": 3_413,
        "failed": 0,
        "skipped": 0,
        "pending": 0,
    }
    posts = [r for r in sink.requests if r.path == "/chat"]
    # Exactly once: one POST per group, no repeats, no group left out, no other group told.
    assert len(posts) == 3_413
    told = Counter(r.json()["group_id"] for r in posts)
    assert set(told) == groups
    assert max(told.values()) == 1
    assert len({r.key for r in posts}) == 3_413
    first = posts[0].json()
    assert first["notice_id"] == notice_id
    assert (first["title"], first["kind"]) == ("防汛通知", "broadcast")
    assert first["delivery_id"] == posts[0].key

    assert [r["seq"] for r in last_page["recipients"]] == list(range(3_400, 3_413))
    assert last_page["page"]["next_offset"] is None
    assert {r["status"] for r in last_page["recipients"]} == {"delivered"}
    assert all(r["attempts"] == 1 and r["channel"] == "chat_group" for r in last_page["recipients"])
    assert "address" not in last_page["recipients"][0]


async def test_an_intermittent_sink_ends_with_every_recipient_delivered_or_failed_with_a_reason(
    system: System,
) -> None:
    registry = load_registry()
    township = registry.townships[0]
    groups = [
        g for g in registry.chat_groups if registry.grid(g.grid_id).township_id == township.id
    ]
    gone = {groups[3].id, groups[7].id}  # these groups were dissolved: 410 every time
    flaky = random.Random(7)

    def decide(_: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        if body.get("group_id") in gone:
            return 410, {}
        roll = flaky.random()
        if roll < 0.2:
            return 503, {}
        if roll < 0.3:
            return 429, {"Retry-After": "0"}
        return 200, {}

    async with HttpSink(decide=decide) as sink:
        system.start(["notify"], notify_env(sink, NOTIFY_MAX_ATTEMPTS="12"))
        async with httpx.AsyncClient(
            base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
        ) as client:
            answer = await client.post(
                "/v1/notices",
                json={
                    "audience": {"level": "township", "ids": [township.id]},
                    "title": "停水通知",
                    "body": "明日9时至17时停水检修。",
                    "channels": ["chat_group"],
                },
            )
            assert answer.status_code == 202, answer.text
            notice_id = answer.json()["notice_id"]
            notice = await completed(client, notice_id)
            failed_page = (
                await client.get(
                    f"/v1/notices/{notice_id}", params={"status": "failed", "limit": 50}
                )
            ).json()

    assert notice["totals"]["recipients"] == len(groups)
    assert notice["totals"]["pending"] == 0
    assert notice["totals"]["delivered"] == len(groups) - len(gone)
    assert notice["totals"]["failed"] == len(gone)
    assert {r["recipient_id"] for r in failed_page["recipients"]} == gone
    assert all("HTTP 410 Gone" in r["last_error"] for r in failed_page["recipients"])
    assert all(r["attempts"] == 1 for r in failed_page["recipients"])
    # Every group not gone was accepted exactly once, under one key, whatever it took.
    accepted = sink.accepted_on("/chat")
    assert sorted(b["group_id"] for b in accepted.values()) == sorted(
        g.id for g in groups if g.id not in gone
    )
    retried = [r for r in sink.requests if r.status in (429, 503)]
    assert retried, "the sink should have refused some requests"
    assert not sink.repeats, "a delivered recipient was sent again"
