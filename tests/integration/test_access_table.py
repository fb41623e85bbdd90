"""docs/security.md's route-by-route table, walked against the six running services.

The table is the documentation and this test's input at once: every operation of every
service's OpenAPI must have a row, and every route is called with every kind of credential.
A cell that differs fails the test with the route, the credential and what came back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS, KeyedChannel
from gridloop_common.registry import load_registry
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_dispatch.model import case_id_for
from tests.integration.departments import OPERATOR_KEY, Departments
from tests.integration.system import ALL_SERVICES, System

pytestmark = pytest.mark.integration

TABLE = Path(__file__).resolve().parents[2] / "docs" / "security.md"
VIEWER_KEY = "access-test-viewer-key"
OPEN311_KEY = "access-test-open311-key"
HOLDER, OTHER_UNIT = "city-mgmt", "water"  # road-damage goes to city-mgmt
LET_THROUGH = "✓"
# Path parameters: the real case, order and report where ownership is judged, else any value.
PARAMETERS = {
    "service_code": "road-damage",
    "token": "no-such-token",
    "code": "housing",  # not a unit under test: an operator's key rotation must not lock it out
    "rule_id": "no-such-rule",
    "notice_id": "no-such-notice",
    "subscription_id": "no-such-subscription",
    "level": "department",
    "entity_id": HOLDER,
    "period": "2026-12",
    "grid_id": "grd-xijin-001-01",
    "action": "redispatch",
}
# Where the credential is judged against the stored case or order (is it this unit's order,
# this report's token?), the body is judged first; these routes get a valid one.
BODIES: dict[str, dict[str, Any]] = {
    "/v1/cases/{case_id}/feedback": {"satisfied": True},
    "/v1/orders/{order_id}/reject": {"reason_code": "not-ours"},
    "/v1/orders/{order_id}/progress": {"note": "在处理"},
    "/v1/orders/{order_id}/complete": {"result": "已修复"},
    "/v1/orders/{order_id}/request-extension": {
        "reason": "需要材料",
        "proposed_complete_by": "2027-01-01T00:00:00Z",
    },
}


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str
    expected: dict[str, str]  # caller → "✓", "401" or "403"


def access_table() -> list[Row]:
    """The rows under docs/security.md's "Route by route" heading."""
    lines = TABLE.read_text(encoding="utf-8").split("### Route by route", 1)[1].splitlines()
    header = next(line for line in lines if line.startswith("| service | method | path |"))
    callers = [cell.strip() for cell in header.strip("|").split("|")][3:]
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        service, method, path = cells[0], cells[1], cells[2].strip("`")
        rows.append(Row(service, method, path, dict(zip(callers, cells[3:], strict=True))))
    return rows


@dataclass(frozen=True)
class City:
    """What the credentials act on: one report's case and order, and another report."""

    report_id: str
    case_id: str
    order_id: str
    reporter_token: str
    other_reporter_token: str
    department_keys: dict[str, str]
    # The holder's key before the operator issued it a new one: the one credential that expires.
    expired_key: str

    def path(self, template: str) -> str:
        values = {
            **PARAMETERS,
            "report_id": self.report_id,
            "service_request_id": self.report_id,
            "case_id": self.case_id,
            "order_id": self.order_id,
        }
        return template.format(**values)

    def headers(self, caller: str, path: str) -> dict[str, str]:
        channel = _channel_of(path)
        others = [k for c, k in DEVELOPMENT_CHANNEL_KEYS.items() if c != channel]
        return {
            "public": {},
            "wrong key": {"X-Api-Key": f"nobody-{uuid.uuid4().hex[:8]}"},
            "expired key": {"X-Api-Key": self.expired_key},
            "Open311 client": {"X-Api-Key": OPEN311_KEY},
            "channel": {"X-Api-Key": DEVELOPMENT_CHANNEL_KEYS[channel]},
            "other channel": {"X-Api-Key": others[0]},
            "department": {"X-Api-Key": self.department_keys[HOLDER]},
            "other department": {"X-Api-Key": self.department_keys[OTHER_UNIT]},
            "reporter": {"X-Reporter-Token": self.reporter_token},
            "other reporter": {"X-Reporter-Token": self.other_reporter_token},
            "viewer": {"X-Api-Key": VIEWER_KEY},
            "operator": {"X-Api-Key": OPERATOR_KEY},
        }[caller]


def _channel_of(path: str) -> KeyedChannel:
    for channel in DEVELOPMENT_CHANNEL_KEYS:
        if f"/channels/{channel}/" in path:
            return channel
    return "chat-group"


async def _report(http: httpx.AsyncClient, intake: str, grid_index: int) -> tuple[str, str]:
    grid = load_registry().grids[grid_index]
    point = grid.polygon.representative_point()
    answer = await http.post(
        f"{intake}/v1/reports",
        json={
            "category_code": "road-damage",
            "description": "路面塌陷一个大坑",
            "location": {"lat": point.y, "lon": point.x},
        },
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["report_id"], answer.json()["reporter_token"]


async def _city(system: System, isolated: Isolated, departments: Departments) -> City:
    accounts = await departments.provision(HOLDER, OTHER_UNIT)
    async with httpx.AsyncClient(timeout=20) as http:
        report_id, token = await _report(http, system.url("intake"), 7)
        _, other_token = await _report(http, system.url("intake"), 300)
        case_id = case_id_for(report_id)

        async def dispatched() -> dict[str, Any] | None:
            answer = await http.get(
                f"{system.url('dispatch')}/v1/cases/{case_id}",
                headers={"X-Api-Key": OPERATOR_KEY},
            )
            return answer.json() if answer.status_code == 200 and answer.json()["orders"] else None

        case = await eventually(dispatched, timeout=30, what="the report's case and order")
        keys = {code: account.api_key for code, account in accounts.items()}
        # The operator rotates the holder's key: the old one has expired from now on.
        rotated = await http.post(
            f"{system.url('dispatch')}/v1/departments/{HOLDER}/api-key",
            headers={"X-Api-Key": OPERATOR_KEY},
        )
        assert rotated.status_code == 200, rotated.text
        expired, keys[HOLDER] = keys[HOLDER], rotated.json()["api_key"]
    [order] = case["orders"]
    assert order["department"] == HOLDER, order
    return City(report_id, case_id, order["order_id"], token, other_token, keys, expired)


def _request(row: Row, caller: str, city: City) -> dict[str, Any]:
    headers = city.headers(caller, row.path)
    if row.service == "intake" and row.path.endswith("/requests.json") and row.method == "POST":
        # An Open311 client's key travels in the form, as GeoReport v2 has it.
        return {"data": {"api_key": headers.get("X-Api-Key", "")}, "headers": {}}
    if row.method in ("POST", "PUT"):
        return {"json": BODIES.get(row.path, {}), "headers": headers}
    return {"headers": headers}


def _is_live_stream(answer: httpx.Response) -> bool:
    # The console's /live never ends: its status and headers are the answer.
    content_type = answer.headers.get("content-type", "")
    return answer.status_code == 200 and content_type.startswith("text/event-stream")


def _mismatch(row: Row, caller: str, expected: str, answer: httpx.Response) -> str | None:
    status = answer.status_code
    if expected == LET_THROUGH:
        if status in (401, 403, 429) or status >= 500:
            return f"let through, got {status} {answer.text[:160]}"
        return None
    if str(status) != expected:
        return f"{expected}, got {status} {answer.text[:160]}"
    body = answer.json()
    machine_readable = isinstance(body, list) and body and "code" in body[0]
    if not (machine_readable or (isinstance(body, dict) and body.get("code"))):
        return f"{expected} without a machine-readable body: {answer.text[:160]}"
    return None


async def test_every_route_answers_every_credential_as_the_table_says(
    system: System, isolated: Isolated
) -> None:
    rows = access_table()
    system.start(
        ALL_SERVICES,
        {
            "VIEWER_API_KEY": VIEWER_KEY,
            "GRIDLOOP_OPEN311_API_KEYS": OPEN311_KEY,
            "DEPARTMENT_USER_PREFIX": f"{isolated.prefix}-",
        },
    )
    departments = Departments(isolated)
    try:
        city = await _city(system, isolated, departments)
        mismatches: list[str] = []
        calls = 0
        async with httpx.AsyncClient(timeout=20) as http:
            for service in ALL_SERVICES:
                schema = (await http.get(f"{system.url(service)}/openapi.json")).json()
                served = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
                listed = {(r.method, r.path) for r in rows if r.service == service}
                assert served == listed, (service, served ^ listed)
            for row in rows:
                url = system.url(row.service) + city.path(row.path)
                for caller, expected in row.expected.items():
                    request = _request(row, caller, city)
                    async with http.stream(row.method, url, **request) as answer:
                        if not _is_live_stream(answer):
                            await answer.aread()
                        calls += 1
                        found = _mismatch(row, caller, expected, answer)
                    if found:
                        mismatches.append(
                            f"{row.service} {row.method} {row.path} as {caller}: {found}"
                        )
    finally:
        await departments.delete_users()
    print(f"access table: {len(rows)} routes x {len(rows[0].expected)} credentials, {calls} calls")
    assert not mismatches, "\n".join(mismatches)
