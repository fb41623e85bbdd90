"""Open311 GeoReport v2 against running intake: a third-party client and raw spec form posts."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import structlog
from aio_pika.abc import AbstractChannel
from georeport import GeoReport
from services.intake.tests.integration.conftest import API_KEY, RunningIntake
from services.intake.tests.integration.test_intake import next_event, report_after_publishing

from gridloop_common.catalogue import CATEGORIES
from gridloop_common.contracts import CaseClosed, CaseDispatched, CaseEvent
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.mongo import Client
from gridloop_common.registry import load_registry
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

REGISTRY = load_registry()
GRID = REGISTRY.grids[40]
POINT = GRID.polygon.representative_point()
PHONE = "13712345678"


def spec_form(**changes: str) -> dict[str, str]:
    """The spec's example request, with Ningguo's values."""
    form = {
        "api_key": API_KEY,
        "service_code": "road-damage",
        "lat": f"{POINT.y:.7f}",
        "long": f"{POINT.x:.7f}",
        "address_string": "宁国市西津街道津河路 12 号门口",
        "email": "resident@example.org",
        "device_id": "tt222111",
        "account_id": "123456",
        "first_name": "三",
        "last_name": "张",
        "phone": PHONE,
        "description": "路面塌陷一个大坑，电动车差点摔倒",
        "media_url": "https://example.org/images/1.jpg",
        "attribute[severity]": "high",
        "attribute[landmark]": "津河桥东",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


async def publish_case_event(amqp: AbstractChannel, event: CaseEvent) -> None:
    outgoing = envelope(event, source="test/dispatch", time=datetime.now(UTC))
    await Publisher(amqp, app_id="test").publish(outgoing)


def case_fields(report_id: str) -> dict[str, Any]:
    token = uuid.uuid4().hex[:8]
    return {
        "case_id": f"C-{token}",
        "order_id": f"O-{token}",
        "department": "city-mgmt",
        "category_code": "road-damage",
        "grid_id": GRID.id,
        "report_id": report_id,
    }


async def test_a_third_party_client_reads_services_and_follows_a_spec_form_post(
    intake_server: ServiceProcess, amqp: AbstractChannel
) -> None:
    root = f"{intake_server.base_url}/open311/v2"
    client = GeoReport(root)

    services = await asyncio.to_thread(client.get_service_list)
    assert [s["service_code"] for s in services] == [c.code for c in CATEGORIES]
    road = next(s for s in services if s["service_code"] == "road-damage")
    assert road["service_name"] == "道路破损"
    assert road["group"] == "市城市管理局"
    assert road["type"] == "realtime"
    assert road["metadata"] is True
    definition = await asyncio.to_thread(client.get_service_definition, "road-damage")
    codes = {a["code"]: a for a in definition["attributes"]}
    assert codes["severity"]["datatype"] == "singlevaluelist"
    assert {v["key"] for v in codes["severity"]["values"]} == {"low", "medium", "high"}
    assert codes["landmark"]["datatype"] == "string"

    async with httpx.AsyncClient(base_url=root) as http:
        created = await http.post("/requests.json", data=spec_form())
        assert created.status_code == 201, created.text
        [answer] = created.json()
        # The spec's fields, and one extension: the submitter's token for their verdict.
        assert set(answer) == {
            "service_request_id",
            "service_notice",
            "account_id",
            "reporter_token",
        }
        assert len(answer["reporter_token"]) == 12
        assert answer["account_id"] is None
        assert "市城市管理局" in answer["service_notice"]
        request_id = answer["service_request_id"]

        # About 5 m away: the same pothole, linked to the first as a supporting report.
        nearby = spec_form(lat=f"{POINT.y + 0.00004:.7f}", email="", phone="", description="")
        supporting = await http.post("/requests.json", data=nearby)
        assert supporting.status_code == 201, supporting.text
        supporting_id = supporting.json()[0]["service_request_id"]
        assert request_id in supporting.json()[0]["service_notice"]

    request = await asyncio.to_thread(client.get_service_request, request_id)
    assert request["service_request_id"] == request_id
    assert request["status"] == "open"
    assert request["service_code"] == "road-damage"
    assert request["service_name"] == "道路破损"
    assert request["description"] == "路面塌陷一个大坑，电动车差点摔倒"
    assert request["address"] == "宁国市西津街道津河路 12 号门口"
    assert request["lat"] == pytest.approx(POINT.y, abs=1e-6)
    assert request["long"] == pytest.approx(POINT.x, abs=1e-6)
    assert request["media_url"] == "https://example.org/images/1.jpg"
    assert request["agency_responsible"] is None
    assert request["requested_datetime"].endswith("Z")
    assert PHONE not in json.dumps(request) and "resident@" not in json.dumps(request)

    complete_by = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    fields = case_fields(request_id)
    await publish_case_event(
        amqp,
        CaseDispatched(
            **fields,
            dispatched_at=datetime.now(UTC),
            accept_by=datetime.now(UTC) + timedelta(hours=8),
            complete_by=complete_by,
        ),
    )

    async def dispatched() -> dict[str, Any] | None:
        found = await asyncio.to_thread(client.get_service_request, request_id)
        return found if found["agency_responsible"] else None

    request = await eventually(dispatched, what="the request to show its department")
    assert request["agency_responsible"] == "市城市管理局"
    assert request["expected_datetime"] == "2026-12-01T08:00:00Z"
    assert request["status"] == "open"

    await publish_case_event(
        amqp, CaseClosed(**fields, closed_at=datetime.now(UTC), satisfied=True)
    )

    async def both_closed() -> list[dict[str, Any]] | None:
        found = await asyncio.to_thread(
            client.get_service_requests, service_request_id=f"{request_id},{supporting_id}"
        )
        return found if all(r["status"] == "closed" for r in found) else None

    both = {r["service_request_id"]: r for r in await eventually(both_closed, what="closing")}
    assert set(both) == {request_id, supporting_id}
    assert request_id in both[supporting_id]["status_notes"]
    assert both[supporting_id]["agency_responsible"] == "市城市管理局"

    closed = await asyncio.to_thread(
        client.get_service_requests, service_code="road-damage", status="closed"
    )
    assert {r["service_request_id"] for r in closed} == {request_id, supporting_id}
    still_open = await asyncio.to_thread(client.get_service_requests, status="open")
    assert still_open == []

    async with httpx.AsyncClient(base_url=root) as http:
        token = await http.get(f"/tokens/{request_id}.json")
    assert token.json() == [{"service_request_id": request_id, "token": request_id}]


async def test_spec_errors_are_open311_error_lists(intake_server: ServiceProcess) -> None:
    root = f"{intake_server.base_url}/open311/v2"
    async with httpx.AsyncClient(base_url=root) as http:
        for api_key in ("", "wrong-key"):
            refused = await http.post("/requests.json", data=spec_form(api_key=api_key))
            assert refused.status_code == 403
            assert refused.json() == [
                {"code": 403, "description": "missing or invalid api_key", "field": "api_key"}
            ]

        bad = await http.post(
            "/requests.json",
            data=spec_form(
                lat="",
                long="",
                address_string="",
                email="not-an-address",
                **{"attribute[severity]": "apocalyptic", "attribute[colour]": "red"},
            ),
        )
        assert bad.status_code == 422
        problems = {p["field"]: p for p in bad.json()}
        assert set(problems) == {"lat", "email", "attribute[severity]", "attribute[colour]"}
        assert all(p["code"] == 422 and p["description"] for p in problems.values())

        unknown = await http.post("/requests.json", data=spec_form(service_code="no-such"))
        assert unknown.status_code == 422
        assert unknown.json()[0]["field"] == "service_code"
        assert "no-such" in unknown.json()[0]["description"]

        outside = await http.post("/requests.json", data=spec_form(lat="39.9", long="116.4"))
        assert outside.status_code == 422
        assert "outside the city" in outside.json()[0]["description"]

        missing = await http.get("/requests/R-nothing.json")
        assert missing.status_code == 404
        assert missing.json()[0]["code"] == 404
        assert (await http.get("/services/no-such.json")).status_code == 404
        assert (await http.get("/tokens/R-nothing.json")).status_code == 404

        too_wide = await http.get(
            "/requests.json",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        )
        assert too_wide.status_code == 422
        assert too_wide.json()[0]["field"] == "end_date"

    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(GeoReport(root).get_service_request, "R-nothing")
    assert raised.value.response.status_code == 404


def test_discovery_names_this_endpoint(intake_server: ServiceProcess) -> None:
    response = httpx.get(f"{intake_server.base_url}/open311/v2/discovery.json")
    assert response.status_code == 200
    [endpoint] = response.json()["endpoints"]
    assert endpoint["url"] == f"{intake_server.base_url}/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["application/json"]


async def test_open311_contacts_stay_apart_and_only_the_reply_address_is_published(
    intake: RunningIntake, isolated: Isolated, mongo_client: Client
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await intake.client.post("/open311/v2/requests.json", data=spec_form())
        event = await next_event(intake.events)
    assert response.status_code == 201, response.text
    request_id = response.json()[0]["service_request_id"]
    assert event["data"]["report_id"] == request_id
    assert event["data"]["channel"] == "open311"
    assert event["data"]["reply_to"] == {"channel": "email", "address": "resident@example.org"}
    published = json.dumps(event, ensure_ascii=False)
    for secret in (PHONE, "张", "resident@example.org"):
        assert secret not in json.dumps(logs, default=str, ensure_ascii=False)
    for secret in (PHONE, "张 三", "三 张"):
        assert secret not in published

    database = mongo_client[isolated.database("intake")]
    for report in (await report_after_publishing(database, request_id)).values():
        assert report["attributes"] == {"severity": "high", "landmark": "津河桥东"}
        assert "resident@" not in json.dumps(report, default=str)
    contact = await database["contacts"].find_one({"_id": report["reporter_id"]})
    assert contact is not None
    assert contact["phone"] == PHONE
    assert contact["email"] == "resident@example.org"


async def test_without_an_email_the_reply_address_is_the_service_request_id(
    intake: RunningIntake,
) -> None:
    response = await intake.client.post(
        "/open311/v2/requests.json",
        data=spec_form(email="", service_code="garbage", **{"attribute[landmark]": ""}),
    )
    assert response.status_code == 201, response.text
    event = await next_event(intake.events)
    request_id = response.json()[0]["service_request_id"]
    assert event["data"]["reply_to"] == {"channel": "open311", "address": request_id}


async def test_a_retried_open311_post_with_the_same_key_creates_nothing_new(
    intake: RunningIntake, isolated: Isolated, mongo_client: Client
) -> None:
    headers = {"Idempotency-Key": "open311-retry-1"}
    form = spec_form(service_code="street-light")
    first = await intake.client.post("/open311/v2/requests.json", data=form, headers=headers)
    again = await intake.client.post("/open311/v2/requests.json", data=form, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    reports = mongo_client[isolated.database("intake")]["reports"]
    assert await reports.count_documents({"channel": "open311"}) == 1
