"""A resident's contact data erased on request: gone from intake and notify; the case stays."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS
from gridloop_common.contracts import CaseAccepted, CaseCompleted
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from tests.integration.departments import AS_OPERATOR
from tests.integration.notify_sinks import HttpSink
from tests.integration.system import System
from tests.integration.test_notify_broadcast import FAST_NOTIFY
from tests.integration.test_notify_feedback import publish

pytestmark = pytest.mark.integration

PHONE, SPOKEN_PHONE, NAME = "13812345678", "138 1234 5678", "欧阳小明"
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def _everything_in(client: Client, database: str) -> str:
    """Every document of every collection of a database, as one text to search."""
    texts = []
    db = client[database]
    for name in await db.list_collection_names():
        async for document in db[name].find({}):
            texts.append(json.dumps(document, default=str, ensure_ascii=False))
    return "\n".join(texts)


def _case(report_id: str, reporter_id: str, case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "order_id": f"O-{case_id}",
        "department": "city-mgmt",
        "category_code": "road-damage",
        "grid_id": "unlocated",
        "township_id": None,
        "report_id": report_id,
        "reporter_id": reporter_id,
    }


async def test_erasing_a_reporter_removes_their_contact_everywhere_and_keeps_the_case(
    system: System, amqp: AbstractChannel, isolated: Isolated, mongo_client: Client
) -> None:
    intake_db, notify_db = isolated.database("intake"), isolated.database("notify")
    async with HttpSink() as sink:
        system.start(
            ["intake", "notify"], {**FAST_NOTIFY, "NOTIFY_SMS_GATEWAY_URL": sink.url("/sms")}
        )
        async with httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as intake:
            call = await intake.post(
                "/v1/channels/hotline/calls",
                headers={"X-Api-Key": DEVELOPMENT_CHANNEL_KEYS["hotline"]},
                json={
                    "call_id": f"call-{uuid.uuid4().hex[:8]}",
                    "caller_phone": PHONE,
                    "caller_name": NAME,
                    "description": "小区门口路面塌陷",
                    "category_code": "road-damage",
                },
            )
            assert call.status_code == 202, call.text
            report_id = call.json()["report_id"]
            report = await mongo_client[intake_db]["reports"].find_one({"_id": report_id})
            assert report is not None
            reporter_id = report["reporter_id"]
            case_id = f"C-{report_id}"

            # The reporter hears the acceptance by SMS: notify now holds the phone twice (the
            # reply record, the delivery batch).
            reporters = mongo_client[notify_db]["reporters"]
            await eventually(
                lambda: reporters.find_one({"_id": report_id}), what="the reply address stored"
            )
            await publish(
                amqp, CaseAccepted(**_case(report_id, reporter_id, case_id), accepted_at=NOW)
            )

            def texts_to_phone() -> list[dict[str, Any]]:
                return [b for b in sink.accepted_on("/sms").values() if b["to"] == PHONE]

            async def delivered() -> bool:
                settled = await mongo_client[notify_db]["batches"].count_documents({"open": False})
                return bool(texts_to_phone()) and settled >= 1

            await eventually(delivered, what="the acceptance SMS delivered and settled")
            assert PHONE in await _everything_in(mongo_client, notify_db)
            assert PHONE in await _everything_in(mongo_client, intake_db)

            # The resident asks; the center erases, finding them by the phone as they say it.
            viewer = await intake.post(
                "/v1/reporters/erasure",
                headers={"X-Api-Key": "not-the-operator"},
                json={"phone": SPOKEN_PHONE},
            )
            assert viewer.status_code == 401
            both = await intake.post(
                "/v1/reporters/erasure",
                headers=AS_OPERATOR,
                json={"phone": SPOKEN_PHONE, "reporter_id": reporter_id},
            )
            assert (both.status_code, both.json()["code"]) == (422, "one_identifier")
            erased = await intake.post(
                "/v1/reporters/erasure", headers=AS_OPERATOR, json={"phone": SPOKEN_PHONE}
            )
            assert erased.status_code == 200, erased.text
            assert erased.json()["reporter_id"] == reporter_id
            assert erased.json()["contact_erased"] is True

            async def notify_forgot() -> bool:
                return PHONE not in await _everything_in(mongo_client, notify_db)

            await eventually(notify_forgot, timeout=30, what="notify's copies of the phone gone")
            intake_holds = await _everything_in(mongo_client, intake_db)
            assert PHONE not in intake_holds and NAME not in intake_holds
            assert NAME not in await _everything_in(mongo_client, notify_db)
            # The report (and so the case and its figures) stays, under the same pseudonym.
            kept = await mongo_client[intake_db]["reports"].find_one({"_id": report_id})
            assert kept is not None and kept["reporter_id"] == reporter_id
            again = await intake.post(
                "/v1/reporters/erasure", headers=AS_OPERATOR, json={"reporter_id": reporter_id}
            )
            assert again.status_code == 200 and again.json()["contact_erased"] is False

            # Later news of the case is recorded for them, sent nowhere.
            await publish(
                amqp,
                CaseCompleted(
                    **_case(report_id, reporter_id, case_id), completed_at=NOW, result="已修复"
                ),
            )
            async with httpx.AsyncClient(
                base_url=system.url("notify"), headers=AS_OPERATOR, timeout=10
            ) as notify:

                async def completion_recorded() -> dict[str, Any] | None:
                    listed = (await notify.get(f"/v1/cases/{case_id}/notices")).json()["notices"]
                    done = [n for n in listed if n["kind"] == "case_completed"]
                    return done[0] if done and done[0]["status"] == "completed" else None

                notice = await eventually(completion_recorded, what="the completion recorded")
            assert notice["totals"]["skipped"] == 1
            assert len(texts_to_phone()) == 1
    log = system.processes["intake"].log_tail(chars=1_000_000) + system.processes[
        "notify"
    ].log_tail(chars=1_000_000)
    assert PHONE not in log and NAME not in log
    assert "reply_addresses_erased" in log
