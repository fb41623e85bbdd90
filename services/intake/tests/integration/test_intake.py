"""intake against the real broker and database: durable, idempotent, duplicate-aware, private."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from services.intake.tests.integration.conftest import RunningIntake, intake_settings

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS, KeyedChannel
from gridloop_common.mongo import Client
from gridloop_common.registry import load_registry
from gridloop_common.reporter_tokens import TOKEN_HEADER
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_intake.app import create_app

pytestmark = pytest.mark.integration

REGISTRY = load_registry()
GRID = REGISTRY.grids[5]
POINT = GRID.polygon.representative_point()
PHONE = "13912345678"


async def next_event(queue: AbstractQueue) -> dict[str, Any]:
    async def get() -> AbstractIncomingMessage | None:
        return await queue.get(fail=False, no_ack=True)

    message = await eventually(get, what="a report event")
    body: dict[str, Any] = json.loads(message.body)
    return body


def pothole(lat: float = POINT.y, lon: float = POINT.x, **extra: Any) -> dict[str, Any]:
    return {
        "category_code": "road-damage",
        "description": "路面塌陷一个大坑",
        "location": {"lat": lat, "lon": lon},
        **extra,
    }


async def test_a_report_is_stored_then_published_with_its_placement(intake: RunningIntake) -> None:
    response = await intake.client.post("/v1/reports", json=pothole())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "received"
    assert body["grid_id"] == GRID.id
    assert body["location_precision"] == "point"

    # The stored report is its reporter's to read: with the token of the 202 answer only.
    path = f"/v1/reports/{body['report_id']}"
    assert (await intake.client.get(path)).json()["code"] == "missing_reporter_token"
    wrong = await intake.client.get(path, headers={TOKEN_HEADER: "AAAAAAAAAAAA"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_reporter_token")
    stored = await intake.client.get(path, headers={TOKEN_HEADER: body["reporter_token"]})
    assert stored.status_code == 200
    assert stored.json()["township_id"] == GRID.township_id

    event = await next_event(intake.events)
    assert event["type"] == "org.gridloop.report.received.v1"
    assert event["data"]["report_id"] == body["report_id"]
    assert event["data"]["grid_id"] == GRID.id
    assert event["data"]["reporter_id"].startswith("P-")


async def test_a_retried_request_with_the_same_key_returns_the_first_answer_and_creates_nothing(
    intake: RunningIntake, isolated: Isolated, mongo_client: Client
) -> None:
    headers = {"Idempotency-Key": "retry-42"}
    first = await intake.client.post("/v1/reports", json=pothole(), headers=headers)
    again = await intake.client.post("/v1/reports", json=pothole(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    reports = mongo_client[isolated.database("intake")]["reports"]
    assert await reports.count_documents({}) == 1

    other_body = await intake.client.post(
        "/v1/reports", json=pothole(description="另一个问题"), headers=headers
    )
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"


async def test_a_near_report_of_the_same_problem_is_linked_to_the_open_one(
    intake: RunningIntake,
) -> None:
    first = (await intake.client.post("/v1/reports", json=pothole())).json()
    # About 5 m away, minutes later: the same pothole.
    second = await intake.client.post("/v1/reports", json=pothole(lat=POINT.y + 0.00004))
    assert second.status_code == 202
    assert second.json()["status"] == "linked"
    assert second.json()["linked_to"] == first["report_id"]

    events = [await next_event(intake.events), await next_event(intake.events)]
    linked = next(e for e in events if e["type"] == "org.gridloop.report.linked.v1")
    assert linked["data"]["linked_to"] == first["report_id"]
    assert linked["data"]["reason"].startswith("same category within")


async def report_after_publishing(database: Any, report_id: str) -> dict[str, Any]:
    """The stored report, first without its outbox, then whole once the outbox is cleared: until
    the broker confirms, the pending event (reply address included) waits in the outbox."""
    stored = await database["reports"].find_one({"_id": report_id}, {"outbox": 0})
    assert stored is not None

    async def published() -> dict[str, Any] | None:
        report: dict[str, Any] | None = await database["reports"].find_one({"_id": report_id})
        return report if report is not None and not report.get("outbox_pending") else None

    return {"before": stored, "after": await eventually(published, what="outbox cleared")}


async def test_contact_details_are_stored_apart_and_never_published_or_logged(
    intake: RunningIntake, isolated: Isolated, mongo_client: Client
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await intake.client.post(
            "/v1/reports",
            json=pothole(reporter={"phone": PHONE, "name": "李四"}),
        )
        event = await next_event(intake.events)
    assert response.status_code == 202
    database = mongo_client[isolated.database("intake")]
    for report in (await report_after_publishing(database, response.json()["report_id"])).values():
        assert PHONE not in json.dumps(report, default=str)
        assert "李四" not in json.dumps(report, default=str, ensure_ascii=False)
    contact = await database["contacts"].find_one({"_id": report["reporter_id"]})
    assert contact is not None
    assert contact["phone"] == PHONE
    # Only the reply address notify needs, in its own field.
    assert event["data"]["reply_to"] == {"channel": "sms", "address": PHONE}
    assert PHONE not in json.dumps({k: v for k, v in event["data"].items() if k != "reply_to"})
    assert PHONE not in json.dumps(logs, default=str)
    assert "李四" not in json.dumps(logs, default=str, ensure_ascii=False)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (pothole(lat=39.9, lon=116.4), "outside_city", "location"),
        (
            {"grid_id": "grd-nowhere", "category_code": "garbage", "description": "x"},
            "unknown_grid",
            "grid_id",
        ),
        ({"grid_id": GRID.id, "category_code": "garbage"}, "invalid_request", "description"),
        (
            {"grid_id": GRID.id, "category_code": "no-such", "description": "x"},
            "unknown_category",
            "category_code",
        ),
    ],
)
async def test_bad_input_is_a_422_naming_field_and_reason(
    intake: RunningIntake, body: dict[str, Any], code: str, field: str
) -> None:
    response = await intake.client.post("/v1/reports", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == code
    assert field in [error["field"] for error in problem["errors"]]
    assert all(error["reason"] for error in problem["errors"])


async def test_a_body_over_64_kib_is_refused_with_413(intake: RunningIntake) -> None:
    response = await intake.client.post("/v1/reports", json=pothole(description="坑" * 30_000))
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


async def test_chat_patrol_and_hotline_channels_each_produce_a_report(
    intake: RunningIntake,
) -> None:
    group = REGISTRY.chat_groups_of_grids([GRID.id])[0]
    worker = REGISTRY.officers_of_grids([GRID.id])[0]
    posts = [
        (
            "/v1/channels/chat-group/messages",
            {"group_id": group.id, "sender_id": "wx-9", "text": "@居民助手 楼下垃圾三天没人清运了"},
        ),
        (
            "/v1/channels/patrol/reports",
            {
                "worker_id": worker.id,
                "category_code": "illegal-building",
                "description": "新增违建一处",
            },
        ),
        (
            "/v1/channels/hotline/calls",
            {
                "call_id": "12345-001",
                "caller_phone": PHONE,
                "address_text": "中溪镇狮桥村",
                "description": "村口的桥栏杆断了",
            },
        ),
    ]
    channels = []
    for (path, body), key in zip(posts, DEVELOPMENT_CHANNEL_KEYS.values(), strict=True):
        response = await intake.client.post(path, json=body, headers={"X-Api-Key": key})
        assert response.status_code == 202, (path, response.text)
        channels.append((await next_event(intake.events))["data"]["channel"])
    assert channels == ["chat_group", "patrol", "hotline"]


CHANNEL_PATHS: dict[KeyedChannel, str] = {
    "chat-group": "/v1/channels/chat-group/messages",
    "patrol": "/v1/channels/patrol/reports",
    "hotline": "/v1/channels/hotline/calls",
}


@pytest.mark.parametrize("channel", list(CHANNEL_PATHS))
@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "missing_api_key"), ("not-a-key", "invalid_api_key"), ("other", "invalid_api_key")],
)
async def test_a_channel_takes_only_its_own_systems_key(
    intake: RunningIntake,
    isolated: Isolated,
    mongo_client: Client,
    channel: KeyedChannel,
    key: str | None,
    code: str,
) -> None:
    if key == "other":  # another channel's system's key opens only that channel
        key = next(k for c, k in DEVELOPMENT_CHANNEL_KEYS.items() if c != channel)
    headers = {} if key is None else {"X-Api-Key": key}
    # An empty body: the key is judged first, so a stranger learns nothing from the fields.
    response = await intake.client.post(CHANNEL_PATHS[channel], json={}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code
    assert "X-Api-Key" in response.json()["detail"] or code == "invalid_api_key"
    reports = mongo_client[isolated.database("intake")]["reports"]
    assert await reports.count_documents({}) == 0


async def test_a_channel_without_a_configured_key_is_off(isolated: Isolated) -> None:
    app = create_app(intake_settings(isolated, intake_hotline_api_key=""))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        response = await client.post(
            CHANNEL_PATHS["hotline"],
            json={},
            headers={"X-Api-Key": DEVELOPMENT_CHANNEL_KEYS["hotline"]},
        )
    assert response.status_code == 503
    assert response.json() == {
        "code": "api_disabled",
        "detail": "INTAKE_HOTLINE_API_KEY is not configured",
    }
