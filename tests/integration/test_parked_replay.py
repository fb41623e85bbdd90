"""Parked messages seen and replayed through the services' APIs and the console's page.

A report parked in dispatch's queue (as an outage past every retry would leave it) is listed
with its reason, refused to the viewer's replay, replayed by the operator from the console's
page, and then has its effect: dispatch opens the case. A malformed message parked elsewhere
stays parked, and the console's own queue goes through the same page in process.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import ReportReceived
from gridloop_common.messaging import Outgoing
from gridloop_common.testing.parking import park, road_damage_report
from gridloop_common.testing.polling import eventually
from gridloop_dispatch.model import case_id_for
from tests.integration.departments import OPERATOR_KEY
from tests.integration.system import ALL_SERVICES, GRID, System

pytestmark = pytest.mark.integration

VIEWER_KEY = "parked-test-viewer-key"
OPERATOR = {"X-Api-Key": OPERATOR_KEY}
VIEWER = {"X-Api-Key": VIEWER_KEY}
HTML = {"Accept": "text/html"}


def _malformed(routing_key: str) -> Outgoing:
    return Outgoing(
        message_id=f"bad-{uuid.uuid4().hex[:8]}",
        exchange="gridloop.events",
        routing_key=routing_key,
        body=b'{"type": "report.received", "data": {"no": "report"}}',
    )


async def _listing(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    answer = await http.get(f"{url}/v1/parked", headers=VIEWER)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_parked_report_is_replayed_from_the_console_and_opens_its_case(
    system: System, amqp: AbstractChannel
) -> None:
    system.start(ALL_SERVICES, {"VIEWER_API_KEY": VIEWER_KEY})
    dispatch, console = system.url("dispatch"), system.url("console")
    report, parked_report = road_damage_report("路面塌陷,停电时未能派单", GRID)
    await park(amqp, "dispatch", parked_report, "outage: the database was away past every retry")
    malformed = _malformed("report.received.native")
    await park(amqp, "scoring", malformed, "invalid message: data.report_id: Field required")

    async with httpx.AsyncClient(timeout=20) as http:
        listing = await _listing(http, dispatch)
        assert listing["queue"] == "dispatch.dead"
        assert listing["waiting"] == 1 and listing["examined"] == 1
        assert listing["by_reason"] == [{"reason_code": "outage", "count": 1}]
        [entry] = listing["messages"]
        assert entry["message_id"] == parked_report.message_id
        assert entry["type"] == ReportReceived.TYPE
        assert entry["routing_key"] == parked_report.routing_key
        assert "body" not in entry and report.description not in str(listing)
        # Looking changed nothing: it is still there to be looked at.
        assert (await _listing(http, dispatch))["waiting"] == 1

        refused = await http.post(
            f"{dispatch}/v1/parked/replay", json={"reason_code": "outage"}, headers=VIEWER
        )
        assert refused.status_code == 403 and refused.json()["code"] == "read_only_key"
        anonymous = await http.post(f"{dispatch}/v1/parked/replay", json={"reason_code": "x"})
        assert anonymous.status_code == 401
        nothing = await http.post(f"{dispatch}/v1/parked/replay", json={}, headers=OPERATOR)
        assert nothing.status_code == 422, nothing.text

        page = await http.get(f"{console}/parked", headers={**OPERATOR, **HTML})
        assert page.status_code == 200, page.text
        assert 'data-service="dispatch" data-waiting="1"' in page.text
        assert 'data-service="scoring" data-waiting="1"' in page.text
        assert 'data-reason="outage"' in page.text
        assert parked_report.message_id in page.text

        viewer_page = await http.get(f"{console}/parked", headers={**VIEWER, **HTML})
        assert viewer_page.status_code == 200 and 'action="/parked/replay"' not in viewer_page.text
        viewer_replay = await http.post(
            f"{console}/parked/replay",
            data={"service": "dispatch", "reason_code": "outage"},
            headers=VIEWER,
        )
        assert viewer_replay.status_code == 403

        replayed = await http.post(
            f"{console}/parked/replay",
            data={"service": "dispatch", "reason_code": "outage"},
            headers=OPERATOR,
        )
        assert replayed.status_code == 303, replayed.text
        assert replayed.headers["location"] == "/parked?service=dispatch&replayed=1"

        async def case_opened() -> bool:
            answer = await http.get(
                f"{dispatch}/v1/cases/{case_id_for(report.report_id)}", headers=OPERATOR
            )
            return answer.status_code == 200

        await eventually(case_opened, timeout=30, what="the replayed report's case")
        assert (await _listing(http, dispatch))["waiting"] == 0
        scoring = await _listing(http, system.url("scoring"))
        assert [m["message_id"] for m in scoring["messages"]] == [malformed.message_id]

        again = await http.post(
            f"{dispatch}/v1/parked/replay", json={"reason_code": "outage"}, headers=OPERATOR
        )
        assert again.status_code == 200 and again.json()["replayed"] == []

        # The console's own queue, read and replayed in process: a malformed message goes
        # back to the console's inbox and is parked again, with the consumer's reason.
        own = _malformed("report.received.native")
        await park(amqp, "console", own, "invalid message: data.report_id: Field required")
        page = await http.get(f"{console}/parked", headers={**OPERATOR, **HTML})
        assert 'data-service="console" data-waiting="1"' in page.text
        back = await http.post(
            f"{console}/parked/replay",
            data={"service": "console", "message_id": own.message_id},
            headers=OPERATOR,
        )
        assert back.headers.get("location") == "/parked?service=console&replayed=1", back.text

        async def parked_again() -> dict[str, Any] | None:
            answer = await http.get(f"{console}/v1/parked", headers=VIEWER)
            messages = answer.json()["messages"]
            return messages[0] if messages and messages[0]["attempts"] != 4 else None

        again_parked = await eventually(parked_again, timeout=30, what="console parks it again")
        assert again_parked["message_id"] == own.message_id
        assert again_parked["reason"].startswith("invalid message")
