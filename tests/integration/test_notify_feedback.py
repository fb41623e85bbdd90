"""Reporters hear about their case on the channel they reported through, with a feedback link."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS
from gridloop_common.contracts import (
    AcceptOrder,
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CompleteOrder,
    Message,
    ReplyAddress,
    ReportLinked,
    ReportReceived,
)
from gridloop_common.messaging import Publisher, department_queue, envelope
from gridloop_common.mongo import Client
from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET, ReporterTokens
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink, SmtpSink
from tests.integration.system import GRID, System
from tests.integration.test_notify_broadcast import FAST_NOTIFY

pytestmark = pytest.mark.integration

FEEDBACK_BASE = "https://feedback.gridloop.example"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


async def publish(amqp: AbstractChannel, *messages: Message) -> None:
    publisher = Publisher(amqp, app_id="test")
    for message in messages:
        await publisher.publish(envelope(message, source="test", time=datetime.now(UTC)))


def received(report_id: str, reply_to: ReplyAddress | None) -> ReportReceived:
    return ReportReceived(
        report_id=report_id,
        channel="native",
        grid_id=GRID,
        category_code="road-damage",
        description="路面坑洼",
        reported_at=NOW,
        township_id="twp-xijin",
        reporter_id=f"P-{report_id}",
        reply_to=reply_to,
    )


def case_fields(case_id: str, report_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "order_id": f"O-{case_id}",
        "department": "city-mgmt",
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": "twp-xijin",
        "report_id": report_id,
        "reporter_id": f"P-{report_id}",
    }


async def test_each_reporter_hears_accepted_completed_closed_on_their_own_channel(
    system: System, amqp: AbstractChannel, isolated: Isolated, mongo_client: Client
) -> None:
    token = uuid.uuid4().hex[:6]
    phone, linked_phone = "13800001111", "13900002222"
    mail = f"resident-{token}@example.org"
    group = "grp-xijin-001-01-1"
    reports = {
        name: f"R-{name}-{token}" for name in ("sms", "linked", "chat", "mail", "o311", "app")
    }
    cases = {name: f"C-{name}-{token}" for name in ("sms", "chat", "mail", "o311", "app")}
    with SmtpSink() as smtp:
        async with HttpSink() as sink:
            system.start(
                ["notify"],
                {
                    **FAST_NOTIFY,
                    "NOTIFY_CHAT_GROUP_WEBHOOK_URL": sink.url("/chat"),
                    "NOTIFY_SMS_GATEWAY_URL": sink.url("/sms"),
                    "NOTIFY_REPORTER_WEBHOOK_URL": sink.url("/reporter"),
                    "NOTIFY_SMTP_HOST": "127.0.0.1",
                    "NOTIFY_SMTP_PORT": str(smtp.port),
                    "NOTIFY_FEEDBACK_BASE_URL": FEEDBACK_BASE,
                },
            )
            await publish(
                amqp,
                received(reports["sms"], ReplyAddress(channel="sms", address=phone)),
                received(reports["chat"], ReplyAddress(channel="chat_group", address=group)),
                received(reports["mail"], ReplyAddress(channel="email", address=mail)),
                received(reports["o311"], ReplyAddress(channel="open311")),
                received(reports["app"], None),
                ReportLinked(
                    report_id=reports["linked"],
                    linked_to=reports["sms"],
                    channel="hotline",
                    grid_id=GRID,
                    category_code="road-damage",
                    reported_at=NOW,
                    reason="same place",
                    reporter_id=f"P-{reports['linked']}",
                    reply_to=ReplyAddress(channel="sms", address=linked_phone),
                ),
            )
            # Case events come after their reports; a duplicate linked later hears what follows.
            stored = mongo_client[isolated.database("notify")]["reporters"]

            async def reports_stored() -> bool:
                return await stored.count_documents({}) == len(reports)

            await eventually(reports_stored, what="the reply addresses stored")
            await publish(
                amqp,
                *(
                    CaseAccepted(**case_fields(cases[n], reports[n]), accepted_at=NOW)
                    for n in cases
                ),
            )
            sms_case = case_fields(cases["sms"], reports["sms"])
            await publish(
                amqp,
                CaseCompleted(**sms_case, completed_at=NOW, result="坑已填平"),
                CaseClosed(**sms_case, closed_at=NOW + timedelta(hours=1), satisfied=True),
            )

            def sms_to(number: str) -> list[dict[str, Any]]:
                return [b for b in sink.accepted_on("/sms").values() if b["to"] == number]

            async def all_told() -> bool:
                return (
                    len(sms_to(phone)) == 3
                    and len(sms_to(linked_phone)) == 3
                    and bool(sink.accepted_on("/chat"))
                    and bool(sink.accepted_on("/reporter"))
                    and bool(smtp.messages)
                )

            await eventually(all_told, timeout=30, what="every reporter told")
            async with httpx.AsyncClient(
                base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
            ) as client:

                async def open311_recorded() -> dict[str, Any] | None:
                    listed = await client.get(f"/v1/cases/{cases['o311']}/notices")
                    if listed.status_code != 200:
                        return None
                    (notice,) = listed.json()["notices"]
                    return notice if notice["status"] == "completed" else None

                o311 = await eventually(open311_recorded, timeout=20, what="the open311 notice")
                o311_detail = (await client.get(f"/v1/notices/{o311['notice_id']}")).json()
            log_text = system.processes["notify"].log_tail(chars=1_000_000)

    # SMS: accepted, then completed with the feedback link and code, then closed; the linked
    # report's reporter hears the same, each message once.
    texts = [b["text"] for b in sorted(sms_to(phone), key=lambda b: b["kind"])]
    kinds = sorted(b["kind"] for b in sms_to(phone))
    assert kinds == ["case_accepted", "case_closed", "case_completed"]
    completed = next(b for b in sms_to(phone) if b["kind"] == "case_completed")
    link = f"{FEEDBACK_BASE}/v1/cases/{cases['sms']}/feedback"
    # The code is the reporter's token (what the verdict needs), not the public case id.
    code = ReporterTokens(DEVELOPMENT_SECRET).for_report(reports["sms"])
    assert link in completed["text"] and f"评价码 {code}" in completed["text"]
    assert (
        f"(code {code})" in completed["text"] and f"评价码 {cases['sms']}" not in completed["text"]
    )
    assert "坑已填平" in completed["text"]
    assert any("感谢您的评价" in t for t in texts)
    assert sorted(b["kind"] for b in sms_to(linked_phone)) == kinds
    assert all(b["case_id"] == cases["sms"] for b in sms_to(phone))

    # Chat group: a reply in the group the report came from, naming report and case.
    (chat,) = sink.accepted_on("/chat").values()
    assert chat["group_id"] == group
    assert reports["chat"] in chat["text"] and cases["chat"] in chat["text"]
    # E-mail: to the reporter's address, the delivery id as Message-ID.
    (recipients, message), *_ = smtp.messages
    assert recipients == [mail]
    assert message["Subject"] == "您反映的问题已受理"
    assert message["Message-ID"].startswith("<") and "@notify.gridloop>" in message["Message-ID"]
    # No reply address: the reporter webhook (the resident app's back end) hears it.
    (app,) = sink.accepted_on("/reporter").values()
    assert (app["case_id"], app["report_id"]) == (cases["app"], reports["app"])
    assert app["recipient_id"] == f"P-{reports['app']}"
    # Open311: nothing pushed, recorded as skipped with the reason.
    assert o311["totals"]["skipped"] == 1
    assert "open311" in o311_detail["recipients"][0]["last_error"]
    assert o311_detail["recipients"][0]["status"] == "skipped"

    # The case closed: notify forgot its reporters' addresses (keeping that the case closed);
    # none was ever logged.
    reporters = mongo_client[isolated.database("notify")]["reporters"]
    for closed in (reports["sms"], reports["linked"]):
        forgotten = await reporters.find_one({"_id": closed})
        assert forgotten is not None and forgotten["closed"] is True
        assert "reply_address" not in forgotten and "reply_channel" not in forgotten
    kept = await reporters.find_one({"_id": reports["chat"]})
    assert kept is not None and kept["reply_address"]
    for secret in (phone, linked_phone, mail):
        assert secret not in log_text


async def test_a_chat_group_reporter_hears_acceptance_completion_and_closure_in_the_group(
    system: System, amqp: AbstractChannel
) -> None:
    group = "grp-xijin-001-01-1"  # the chat group of the grid the tests report in
    async with HttpSink() as sink:
        system.start(["intake", "dispatch"])
        system.start(
            ["notify"],
            {
                **FAST_NOTIFY,
                "NOTIFY_CHAT_GROUP_WEBHOOK_URL": sink.url("/chat"),
                # The link in the reply is the resident's way to dispatch's feedback API.
                "NOTIFY_FEEDBACK_BASE_URL": system.url("dispatch"),
            },
        )
        orders = await amqp.get_queue(department_queue("city-mgmt"))
        department = Publisher(amqp, "dept-city-mgmt")
        async with httpx.AsyncClient(timeout=10) as http:
            said = await http.post(
                f"{system.url('intake')}/v1/channels/chat-group/messages",
                headers={"X-Api-Key": DEVELOPMENT_CHANNEL_KEYS["chat-group"]},
                json={
                    "group_id": group,
                    "sender_id": f"wx-{uuid.uuid4().hex[:8]}",
                    "text": "@居民助手 和平路路面坑洼，行人容易摔倒",
                },
            )
            assert said.status_code == 202, said.text
            report_id = said.json()["report_id"]

            async def next_order() -> dict[str, Any] | None:
                message = await orders.get(fail=False, no_ack=True)
                return None if message is None else envelope_data(message.body)

            order = await eventually(next_order, timeout=30, what="the work order")
            reply = AcceptOrder(order_id=order["order_id"], department="city-mgmt")
            await department.publish(envelope(reply, source="dept", time=datetime.now(UTC)))

            async def told(kind: str) -> dict[str, Any] | None:
                found = [b for b in sink.accepted_on("/chat").values() if b["kind"] == kind]
                return found[0] if found else None

            accepted = await eventually(lambda: told("case_accepted"), what="the accepted reply")
            done = CompleteOrder(
                order_id=order["order_id"], department="city-mgmt", result="已修补路面"
            )
            await department.publish(envelope(done, source="dept", time=datetime.now(UTC)))
            completed = await eventually(lambda: told("case_completed"), what="the completed reply")
            # The resident follows the link from the group's reply, with its code: the token
            # intake's 202 answer gave them.
            assert completed["feedback_code"] == said.json()["reporter_token"]
            verdict = await http.post(
                completed["feedback_url"],
                json={"satisfied": True, "comment": "修得很好"},
                headers={"X-Reporter-Token": completed["feedback_code"]},
            )
            assert verdict.status_code == 200, verdict.text
            closed = await eventually(lambda: told("case_closed"), what="the closed reply")

    case_id = order["case_id"]
    assert completed["feedback_url"] == f"{system.url('dispatch')}/v1/cases/{case_id}/feedback"
    assert completed["feedback_url"] in completed["text"]
    for reply_body in (accepted, completed, closed):
        assert reply_body["group_id"] == group
        assert (reply_body["case_id"], reply_body["report_id"]) == (case_id, report_id)
        assert report_id in reply_body["text"]
    assert len(sink.accepted_on("/chat")) == 3


def envelope_data(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)["data"]
    return data
