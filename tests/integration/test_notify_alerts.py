"""Supervisor alerts: signed webhooks and e-mail, filtered, naming order, deadline, lateness."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import (
    CaseFlagged,
    ExcellentCase,
    ScoringPeriodClosed,
    SlaBreached,
    SlaWarning,
    TopPerformer,
)
from gridloop_common.testing.polling import eventually
from gridloop_notify.signing import SIGNATURE_HEADER, verify
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink, SmtpSink
from tests.integration.system import GRID, System
from tests.integration.test_notify_broadcast import FAST_NOTIFY
from tests.integration.test_notify_feedback import publish

pytestmark = pytest.mark.integration

SECRET = "duty-desk-signing-secret-0001"
DEADLINE = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 16:00 in Ningguo


def order_fields(token: str, department: str = "city-mgmt") -> dict[str, Any]:
    return {
        "order_id": f"O-{token}",
        "case_id": f"C-{token}",
        "department": department,
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": "twp-xijin",
    }


async def test_alerts_reach_the_matching_subscribers_signed_and_naming_order_deadline_lateness(
    system: System, amqp: AbstractChannel
) -> None:
    token = uuid.uuid4().hex[:6]
    with SmtpSink() as smtp:
        async with HttpSink() as sink:
            system.start(
                ["notify"],
                {
                    **FAST_NOTIFY,
                    "NOTIFY_SMTP_HOST": "127.0.0.1",
                    "NOTIFY_SMTP_PORT": str(smtp.port),
                },
            )
            async with httpx.AsyncClient(
                base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
            ) as client:

                async def subscribe(body: dict[str, Any]) -> httpx.Response:
                    return await client.post("/v1/subscriptions", json=body)

                breaches = await subscribe(
                    {
                        "name": "城管局值班",
                        "events": ["sla.breached", "case.flagged"],
                        "filters": {"departments": ["city-mgmt"], "township_ids": ["twp-xijin"]},
                        "endpoint": {"kind": "webhook", "url": sink.url("/duty"), "secret": SECRET},
                    }
                )
                assert breaches.status_code == 201, breaches.text
                assert "secret" not in breaches.json()
                yellow = await subscribe(
                    {
                        "events": ["sla.warning", "sla.breached"],
                        "filters": {"colours": ["yellow"]},
                        "endpoint": {"kind": "email", "address": "supervisor@ningguo.example"},
                    }
                )
                assert yellow.status_code == 201, yellow.text
                water = await subscribe(
                    {
                        "events": ["sla.breached"],
                        "filters": {"departments": ["water"]},
                        "endpoint": {"kind": "webhook", "url": sink.url("/water")},
                    }
                )
                assert water.status_code == 201
                assert len(water.json()["secret"]) >= 32  # made up, shown this once
                water_id = water.json()["subscription_id"]
                assert "secret" not in (await client.get(f"/v1/subscriptions/{water_id}")).json()

                news = await subscribe(
                    {
                        "name": "市融媒体中心",
                        "events": ["notice"],
                        "endpoint": {"kind": "webhook", "url": sink.url("/city-news")},
                    }
                )
                assert news.status_code == 201, news.text
                refused = await subscribe(
                    {
                        "events": ["case.flagged"],
                        "filters": {"colours": ["red"], "departments": ["no-such-unit"]},
                        "endpoint": {"kind": "webhook", "url": sink.url("/x")},
                    }
                )
                assert refused.status_code == 422
                reasons = " ".join(e["reason"] for e in refused.json()["errors"])
                assert "unknown: no-such-unit" in reasons
                assert "case.flagged carries no colours" in reasons

                await publish(
                    amqp,
                    SlaBreached(
                        **order_fields(token),
                        clock="accept",
                        deadline=DEADLINE,
                        fired_at=DEADLINE + timedelta(minutes=90),
                        late_seconds=5_400,
                    ),
                    SlaWarning(
                        **order_fields(f"{token}-w"),
                        clock="complete",
                        deadline=DEADLINE,
                        fired_at=DEADLINE - timedelta(hours=2),
                        threshold=0.75,
                    ),
                    CaseFlagged(
                        **order_fields(f"{token}-f"),
                        flagged_at=DEADLINE,
                        bounces=4,
                        threshold=3,
                    ),
                    ScoringPeriodClosed(
                        period="2026-Q4",
                        granularity="quarter",
                        closed_at=DEADLINE,
                        excellent_cases=(
                            ExcellentCase(
                                case_id=f"C-{token}-good",
                                category_code="road-damage",
                                department="city-mgmt",
                            ),
                        ),
                        top_performers=(
                            TopPerformer(
                                level="department",
                                entity_id="city-mgmt",
                                metric="cases_completed",
                                value=120,
                            ),
                        ),
                    ),
                )

                async def alerted() -> bool:
                    return (
                        len(sink.accepted_on("/duty")) == 2
                        and len(smtp.messages) == 1
                        and len(sink.accepted_on("/city-news")) == 1
                    )

                await eventually(alerted, timeout=30, what="the alerts")
                deleted = await client.delete(f"/v1/subscriptions/{water_id}")
                gone = await client.get(f"/v1/subscriptions/{water_id}")
                listed = (await client.get(f"/v1/cases/C-{token}/notices")).json()

    duty = {b["kind"]: b for b in sink.accepted_on("/duty").values()}
    breach = duty["sla_breached"]
    assert (breach["order_id"], breach["department"], breach["clock"]) == (
        f"O-{token}",
        "city-mgmt",
        "accept",
    )
    assert breach["deadline"] == DEADLINE.isoformat()
    assert breach["late_seconds"] == 5_400
    assert "2026-11-26 16:00" in breach["text"] and "已逾期 1小时30分钟" in breach["text"]
    assert "市城市管理局" in breach["text"]
    flagged = duty["case_flagged"]
    assert (flagged["bounces"], flagged["threshold"], flagged["deadline"]) == (4, 3, None)
    # Signed: the receiver recomputes the HMAC over the raw body with the shared secret.
    for request in (r for r in sink.requests if r.path == "/duty"):
        assert verify(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.raw, time.time())
        assert not verify(
            "another-secret-entirely",
            request.headers[SIGNATURE_HEADER.lower()],
            request.raw,
            time.time(),
        )
    # The water department's subscription heard nothing of city-mgmt's breach.
    assert not [r for r in sink.requests if r.path == "/water"]
    # E-mail: the yellow subscription got the warning only.
    ((recipients, message),) = smtp.messages
    assert recipients == ["supervisor@ningguo.example"]
    assert message["Subject"].startswith("【预警】工单 O-")
    assert "剩余 2小时" in message.get_content()
    assert (deleted.status_code, gone.status_code) == (204, 404)
    # Commendations are announced to the city: here to the one notice subscriber (no chat groups).
    (commendation,) = sink.accepted_on("/city-news").values()
    assert commendation["kind"] == "commendation"
    assert commendation["period"] == "2026-Q4"
    assert f"C-{token}-good（道路破损，市城市管理局）" in commendation["text"]
    assert "市城市管理局（cases_completed 120）" in commendation["text"]
    assert [n["kind"] for n in listed["notices"]] == ["sla_breached"]
