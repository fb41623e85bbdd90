"""dispatch's life cycle with departments as separate consumers on their own credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET, ReporterTokens
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.infrastructure import Infrastructure
from gridloop_common.testing.polling import eventually
from tests.integration.departments import (
    AS_OPERATOR,
    GRID,
    OPERATOR_KEY,
    AioDepartment,
    Center,
    Departments,
    EventProbe,
    PikaDepartment,
    for_case,
    for_report,
    publish_report,
    shared_dispatch,
)
from tests.integration.dispatch_fixtures import (  # noqa: F401  (fixtures, used by name)
    amqp,
    center,
    departments,
    logs_on_failure,
)
from tests.integration.system import System

pytestmark = pytest.mark.integration

DISPATCH_ENV = {"FALLBACK_AFTER_REJECTIONS": "2", "FLAG_AFTER_BOUNCES": "1"}


@pytest.fixture(scope="module")
def shared(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Isolated, System]]:
    log_dir = tmp_path_factory.mktemp("dispatch-loop")
    with shared_dispatch(infrastructure, log_dir, DISPATCH_ENV) as running:
        yield running


@pytest.fixture
async def events(amqp: AbstractChannel) -> AsyncIterator[EventProbe]:
    probe = await EventProbe(amqp).start()
    try:
        yield probe
    finally:
        await probe.close()


# What intake gives each reporter in its 202 answer (the services' shared development secret).
TOKENS = ReporterTokens(DEVELOPMENT_SECRET)


def timeline(case: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(line["what"], line["who"], line["via"]) for line in case["history"]]


async def test_single_department_loop_over_amqp_and_http_with_a_pika_department(
    center: Center, departments: Departments, events: EventProbe, amqp: AbstractChannel
) -> None:
    credentials = (await departments.provision("city-mgmt"))["city-mgmt"]
    department = PikaDepartment(credentials)
    department.start()
    try:
        report_id = await publish_report(amqp, "road-damage")
        # The pika department accepts it at once.
        order = await department.next_order(for_report(report_id))
        data = order["data"]
        assert (data["department"], data["grid_id"], data["role"]) == ("city-mgmt", GRID, "sole")
        assert data["reference"] == report_id
        assert data["grid_path"].startswith("西津街道")
        case_id, order_id = data["case_id"], data["order_id"]
        await center.case_in(case_id, "accepted")

        # The case holds the resident's words and place: no anonymous reads, and a unit
        # reads only the cases it holds orders of, by one case or by listing.
        path = f"{center.base_url}/v1/cases/{case_id}"
        housing = (await departments.provision("housing"))["housing"]
        assert (await center.http.get(path)).status_code == 401
        own = await center.http.get(path, headers={"X-Api-Key": credentials.api_key})
        assert own.status_code == 200 and own.json()["case_id"] == case_id
        foreign = await center.http.get(path, headers={"X-Api-Key": housing.api_key})
        assert (foreign.status_code, foreign.json()["code"]) == (403, "not_your_case")
        listed = await center.http.get(
            f"{center.base_url}/v1/cases", headers={"X-Api-Key": housing.api_key}
        )
        assert listed.status_code == 200
        assert case_id not in {c["case_id"] for c in listed.json()["cases"]}
        assert all(
            any(o["department"] == "housing" for o in c["orders"]) for c in listed.json()["cases"]
        )
        prying = await center.http.get(
            f"{center.base_url}/v1/cases",
            params={"department": "city-mgmt"},
            headers={"X-Api-Key": housing.api_key},
        )
        assert prying.status_code == 403

        # Over HTTP: no key, a wrong key, then the department's key.
        progress = {"note": "材料已到场", "photo_urls": ["https://img.example/1.jpg"]}
        assert (await center.as_department(None, order_id, "progress", progress)).status_code == 401
        forged = credentials.__class__(**{**credentials.__dict__, "api_key": "city-mgmt.nope"})
        assert (
            await center.as_department(forged, order_id, "progress", progress)
        ).status_code == 401
        response = await center.as_department(credentials, order_id, "progress", progress)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "in_progress"
        again = await center.as_department(credentials, order_id, "accept", {})
        assert again.status_code == 409
        assert again.json()["code"] == "illegal_transition"
        assert again.json()["allowed_from"] == ["dispatched"]

        department.reply(
            "complete", {"order_id": order_id, "result": "坑已填平", "handler": "worker-007"}
        )
        await center.case_in(case_id, "completed")
        completed = await events.wait_for("completed", lambda e: e["subject"] == case_id)
        assert completed["data"]["case_complete"] is True

        # The verdict is the reporter's: the case id (public) alone, or another report's
        # token, is refused and changes nothing.
        feedback = f"{center.base_url}/v1/cases/{case_id}/feedback"
        verdict = {"satisfied": True, "comment": "很满意"}
        anonymous = await center.http.post(feedback, json=verdict)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["code"] == "missing_reporter_token"
        someone_else = {"X-Reporter-Token": TOKENS.for_report("R-someone-else")}
        forged = await center.http.post(feedback, json=verdict, headers=someone_else)
        assert forged.status_code == 403, forged.text
        assert forged.json()["code"] == "wrong_reporter_token"
        assert (await center.case(case_id))["status"] == "completed"
        reporter = {"X-Reporter-Token": TOKENS.for_report(report_id)}
        response = await center.http.post(feedback, json=verdict, headers=reporter)
        assert response.status_code == 200, response.text
        closed = await events.wait_for("closed", lambda e: e["subject"] == case_id)
        assert closed["data"]["satisfied"] is True
    finally:
        department.stop()

    directory = (await center.http.get(f"{center.base_url}/v1/departments")).json()
    city = next(d for d in directory if d["code"] == "city-mgmt")
    assert (city["queue"], city["amqp_user"]) == ("dept.city-mgmt.orders", credentials.user)
    assert city["api_key_provisioned"] is True
    assert {d["kind"] for d in directory} == {"city_unit", "township"}

    case = await center.case(case_id)
    assert case["status"] == "closed"
    assert timeline(case) == [
        ("dispatched", "dispatch", "rule"),
        ("accepted", "city-mgmt", "amqp"),
        ("progress", "city-mgmt", "http"),
        ("completed", "city-mgmt", "amqp"),
        ("closed", "reporter", "http"),
    ]
    assert case["history"][1]["handler"] == "worker-007"
    assert case["history"][2]["photo_urls"] == ["https://img.example/1.jpg"]


async def test_joint_action_one_order_per_unit_and_the_lead_completes_last(
    center: Center, departments: Departments, events: EventProbe, amqp: AbstractChannel
) -> None:
    team = await departments.provision("housing", "city-mgmt", "natural-resources")
    report_id = await publish_report(amqp, "unclassified", description="山坡上有人违章搭建并占地")
    case = await center.case_of_report(report_id)
    assert case["status"] == "awaiting_triage"
    assert (await center.http.get(f"{center.base_url}/v1/triage")).status_code == 401
    triage = (await center.http.get(f"{center.base_url}/v1/triage", headers=AS_OPERATOR)).json()[
        "cases"
    ]
    assert case["case_id"] in [c["case_id"] for c in triage]

    wrong_key = await center.http.post(
        f"{center.base_url}/v1/cases/{case['case_id']}/joint-action",
        json={"operator": "op-wang", "lead": "housing", "cooperating": ["city-mgmt"]},
        headers={"X-Api-Key": "not-the-operator-key"},
    )
    assert wrong_key.status_code == 401
    response = await center.operate(
        f"/v1/cases/{case['case_id']}/joint-action",
        {"lead": "housing", "cooperating": ["city-mgmt", "natural-resources"], "note": "联合执法"},
    )
    assert response.status_code == 200, response.text

    async with (
        AioDepartment(team["housing"]) as lead,
        AioDepartment(team["city-mgmt"]) as city,
        AioDepartment(team["natural-resources"]) as land,
    ):
        mine = for_case(case["case_id"])
        orders = {
            d.credentials.code: (await d.next_order(mine))["data"] for d in (lead, city, land)
        }
        assert {o["role"] for o in orders.values()} == {"lead", "cooperating"}
        assert orders["housing"]["role"] == "lead"
        assert {o["lead_department"] for o in orders.values()} == {"housing"}
        assert orders["city-mgmt"]["cooperating_departments"] == ["city-mgmt", "natural-resources"]
        assert len({o["order_id"] for o in orders.values()}) == 3, "one order per unit"
        for department in (lead, city, land):
            await department.reply("accept", orders[department.credentials.code]["order_id"])
        await center.case_in(case["case_id"], "accepted")

        # The lead's report closes the joint action, so it cannot come first.
        early = await center.as_department(
            team["housing"], orders["housing"]["order_id"], "complete", {"result": "已拆除"}
        )
        assert early.status_code == 409
        assert early.json()["code"] == "cooperating_orders_open"
        assert len(early.json()["open_orders"]) == 2

        await city.reply("complete", orders["city-mgmt"]["order_id"], result="已清运")
        await land.reply("complete", orders["natural-resources"]["order_id"], result="已复垦")
        for code in ("city-mgmt", "natural-resources"):
            part = await events.wait_for(
                "completed", lambda e, c=code: e["data"]["department"] == c
            )
            assert part["data"]["case_complete"] is False
        await center.case_in(case["case_id"], "in_progress")
        await lead.reply("complete", orders["housing"]["order_id"], result="联合拆除完毕")

    done = await center.case_in(case["case_id"], "completed")
    final = await events.wait_for("completed", lambda e: e["data"]["department"] == "housing")
    assert final["data"]["case_complete"] is True
    assert final["data"]["role"] == "lead"
    assert [o["status"] for o in done["orders"]] == ["completed"] * 3


async def test_rejections_go_back_to_the_center_then_to_the_township_government(
    center: Center, departments: Departments, events: EventProbe, amqp: AbstractChannel
) -> None:
    accounts = await departments.provision("city-mgmt", "housing", "twp-xijin")
    report_id = await publish_report(amqp, "road-damage")
    async with (
        AioDepartment(accounts["city-mgmt"]) as city,
        AioDepartment(accounts["twp-xijin"]) as township,
    ):
        first = (await city.next_order(for_report(report_id)))["data"]
        await city.reply(
            "reject", first["order_id"], reason_code="not-ours", reason_text="小区内道路"
        )
        case_id = first["case_id"]
        rejected = await events.wait_for("rejected", lambda e: e["subject"] == case_id)
        assert rejected["data"]["reason_code"] == "not-ours"
        await center.case_in(case_id, "rejected")
        assert case_id in [c["case_id"] for c in await center.cases(status="rejected")]

        again = await center.operate(f"/v1/cases/{case_id}/redispatch", {"department": "city-mgmt"})
        assert again.status_code == 409
        assert again.json()["code"] == "department_rejected_before"
        response = await center.operate(
            f"/v1/cases/{case_id}/redispatch", {"department": "housing", "note": "小区道路归住建"}
        )
        assert response.status_code == 200, response.text
        second = next(o for o in response.json()["orders"] if o["department"] == "housing")
        assert second["previous_order_id"] == first["order_id"]

        # housing replies over HTTP: the second rejection hands the case to the fallback owner.
        response = await center.as_department(
            accounts["housing"], second["order_id"], "reject", {"reason_code": "wrong-area"}
        )
        assert response.status_code == 200, response.text
        fallback = (await township.next_order(for_case(case_id)))["data"]
        assert (fallback["dispatch_reason"], fallback["previous_order_id"]) == (
            "fallback",
            second["order_id"],
        )
        flagged = await events.wait_for("flagged", lambda e: e["subject"] == case_id)
        assert flagged["data"]["bounces"] == 2

        refused = await center.as_department(
            accounts["twp-xijin"], fallback["order_id"], "reject", {"reason_code": "not-ours"}
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "fallback_owner_cannot_reject"

    assert case_id in [c["case_id"] for c in await center.cases(flagged="true")]
    assert case_id in [c["case_id"] for c in await center.cases(department="twp-xijin")]
    assert case_id not in [c["case_id"] for c in await center.cases(flagged="false")]
    case = await center.case(case_id)
    assert [line["what"] for line in case["history"]] == [
        "dispatched",
        "rejected",
        "dispatched",
        "rejected",
        "flagged",
        "dispatched",
    ]
    assert (case["history"][2]["who"], case["history"][2]["why"]) == ("op-wang", "小区道路归住建")
    assert case["history"][-1]["who"] == "dispatch"


async def test_an_extension_refused_keeps_complete_by_and_approved_moves_it(
    center: Center, departments: Departments, events: EventProbe, amqp: AbstractChannel
) -> None:
    accounts = await departments.provision("power-utility")
    # A village-level rule: street lights in this community are the power company's.
    rule = await center.http.put(
        f"{center.base_url}/v1/routing-rules",
        json={
            "operator": "op-wang",
            "level": "village",
            "area_id": "vil-xijin-001",
            "category_code": "street-light",
            "department": "power-utility",
        },
        headers={"X-Api-Key": OPERATOR_KEY},
    )
    assert rule.status_code == 200, rule.text
    report_id = await publish_report(amqp, "street-light", description="路灯不亮")
    async with AioDepartment(accounts["power-utility"]) as power:
        order = (await power.next_order(for_report(report_id)))["data"]
        order_id, case_id = order["order_id"], order["case_id"]
        complete_by = datetime.fromisoformat(order["complete_by"])
        await power.reply("accept", order_id)
        await center.case_in(case_id, "accepted")

        await power.reply(
            "request-extension",
            order_id,
            reason="需要更换电缆",
            proposed_complete_by=(complete_by + timedelta(days=2)).isoformat(),
        )

        async def pending() -> list[dict[str, Any]] | None:
            return await center.cases(extension_pending="true") or None

        assert case_id in [c["case_id"] for c in await eventually(pending, what="a request")]
        refused = await center.operate(
            f"/v1/orders/{order_id}/extension/refuse", {"note": "先临时照明"}
        )
        assert refused.status_code == 200, refused.text
        kept = refused.json()["orders"][0]["complete_by"]
        assert datetime.fromisoformat(kept) == complete_by

        wanted = complete_by + timedelta(days=3)
        response = await center.as_department(
            accounts["power-utility"],
            order_id,
            "request-extension",
            {"reason": "电缆到货延迟", "proposed_complete_by": wanted.isoformat()},
        )
        assert response.status_code == 200, response.text
        approved = await center.operate(f"/v1/orders/{order_id}/extension/approve", {})
        assert approved.status_code == 200, approved.text

    extended = await events.wait_for("extended", lambda e: e["subject"] == case_id)
    assert datetime.fromisoformat(extended["data"]["complete_by"]) == wanted
    assert datetime.fromisoformat(extended["data"]["previous_complete_by"]) == complete_by
    case = await center.case(case_id)
    assert datetime.fromisoformat(case["orders"][0]["complete_by"]) == wanted
    assert [e["status"] for e in case["orders"][0]["extensions"]] == ["refused", "approved"]
    whats = [line["what"] for line in case["history"]]
    assert whats[-4:] == [
        "extension_requested",
        "extension_refused",
        "extension_requested",
        "extended",
    ]


async def test_unsatisfied_feedback_reopens_the_case_to_the_same_department(
    center: Center, departments: Departments, events: EventProbe, amqp: AbstractChannel
) -> None:
    accounts = await departments.provision("city-mgmt")
    report_id = await publish_report(amqp, "garbage", description="垃圾没人清理")
    async with AioDepartment(accounts["city-mgmt"]) as city:
        first = (await city.next_order(for_report(report_id)))["data"]
        await city.reply("accept", first["order_id"])
        # Sent straight after the accept: if it overtakes it, it is retried, not lost.
        await city.reply("complete", first["order_id"], result="已清运")
        case_id = first["case_id"]
        await center.case_in(case_id, "completed")
        response = await center.http.post(
            f"{center.base_url}/v1/cases/{case_id}/feedback",
            json={"satisfied": False, "comment": "第二天又堆满了"},
            headers={"X-Reporter-Token": TOKENS.for_report(report_id)},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "reopened"
        second = (await city.next_order(for_case(case_id)))["data"]

    assert second["case_id"] == case_id
    assert second["order_id"] != first["order_id"]
    assert (second["dispatch_reason"], second["comment"]) == ("reopened", "第二天又堆满了")
    assert second["previous_order_id"] == first["order_id"]
    reopened = await events.wait_for("reopened", lambda e: e["subject"] == case_id)
    assert reopened["data"]["reopens"] == 1
    dispatched = await events.wait_for(
        "dispatched", lambda e: e["data"]["order_id"] == second["order_id"]
    )
    assert dispatched["data"]["dispatch_reason"] == "reopened"
    assert (await center.case(case_id))["status"] == "reopened"


async def test_the_village_resolves_one_case_locally_and_escalates_another(
    center: Center, events: EventProbe, amqp: AbstractChannel
) -> None:
    # neighbour-dispute is a local-first category: the village mediates before the center acts.
    solved = await center.case_of_report(await publish_report(amqp, "neighbour-dispute"))
    unsolved = await center.case_of_report(await publish_report(amqp, "neighbour-dispute"))
    assert (solved["status"], unsolved["status"]) == ("reported", "reported")

    response = await center.operate(
        f"/v1/cases/{solved['case_id']}/resolve-locally", {"resolution": "村调解委员会调解成功"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved_locally"
    resolved = await events.wait_for(
        "resolved_locally", lambda e: e["subject"] == solved["case_id"]
    )
    assert resolved["routing_key"] == "case.resolved_locally.twp-xijin"

    response = await center.operate(
        f"/v1/cases/{unsolved['case_id']}/escalate", {"note": "调解不成, 申请司法介入"}
    )
    assert response.status_code == 200, response.text
    [order] = response.json()["orders"]
    assert (order["department"], order["dispatch_reason"]) == ("justice", "escalated")
    await events.wait_for("escalated", lambda e: e["subject"] == unsolved["case_id"])
    await events.wait_for("dispatched", lambda e: e["subject"] == unsolved["case_id"])

    again = await center.operate(f"/v1/cases/{solved['case_id']}/escalate", {})
    assert again.status_code == 409
    assert again.json()["current_status"] == "resolved_locally"
    case = await center.case(unsolved["case_id"])
    assert [(line["what"], line["who"]) for line in case["history"]] == [
        ("reported", "dispatch"),
        ("escalated", "op-wang"),
        ("dispatched", "op-wang"),
    ]


async def test_an_idempotency_key_takes_effect_once_and_is_refused_for_another_request(
    center: Center, departments: Departments, amqp: AbstractChannel
) -> None:
    accounts = await departments.provision("city-mgmt")
    report_id = await publish_report(amqp, "garbage", description="垃圾桶满了")
    async with AioDepartment(accounts["city-mgmt"]) as city:
        order = (await city.next_order(for_report(report_id)))["data"]
        await city.reply("accept", order["order_id"])
        case_id = order["case_id"]
        await center.case_in(case_id, "accepted")
    credentials = accounts["city-mgmt"]
    note = {"note": "已安排清运车"}

    first = await center.as_department(credentials, order["order_id"], "progress", note, "k-1")
    again = await center.as_department(credentials, order["order_id"], "progress", note, "k-1")
    other = await center.as_department(
        credentials, order["order_id"], "progress", {"note": "换了一条"}, "k-1"
    )

    assert (first.status_code, first.json()["repeated"]) == (200, False), first.text
    assert (again.status_code, again.json()["repeated"]) == (200, True), again.text
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["errors"] == [
        {"field": "Idempotency-Key", "reason": "use a new key for a new request"}
    ]
    notes = [line for line in (await center.case(case_id))["history"] if line["what"] == "progress"]
    assert [line["why"] for line in notes] == ["已安排清运车"]
