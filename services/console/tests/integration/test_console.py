"""The console on the real broker and database, served on a real socket: events in, pages out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel

from gridloop_common.clock import ManualClock
from gridloop_common.contracts import (
    CaseAccepted,
    CaseDispatched,
    Message,
    ReplyAddress,
    ReportReceived,
    SlaBreached,
)
from gridloop_common.messaging import Publisher, envelope
from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_common.testing.secantus import free_port
from gridloop_common.testing.served import ServedApp
from gridloop_console.app import create_app
from gridloop_console.repository import BOARD, OpenOrderBoard
from gridloop_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

OPERATOR_KEY = "console-test-operator-key"
VIEWER_KEY = "console-test-viewer-key"
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Ningguo
HOUR = timedelta(hours=1)
GRID = "grd-xijin-001-01"
PHONE = "13912345678"


def report(report_id: str) -> ReportReceived:
    return ReportReceived(
        report_id=report_id,
        channel="hotline",
        grid_id=GRID,
        township_id="twp-xijin",
        category_code="road-damage",
        description="西津大道路面塌陷一个大坑",
        reported_at=NOW - 2 * HOUR,
        reply_to=ReplyAddress(channel="sms", address=PHONE),
    )


def facts(case_id: str, report_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "report_id": report_id,
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": "twp-xijin",
        "order_id": f"{case_id}-O1",
        "department": "city-mgmt",
    }


def dispatched(case_id: str, report_id: str, at: datetime) -> CaseDispatched:
    return CaseDispatched(
        **facts(case_id, report_id),
        dispatched_at=at,
        accept_by=at + 8 * HOUR,
        complete_by=at + 72 * HOUR,
    )


class Console:
    def __init__(self, isolated: Isolated, channel: AbstractChannel) -> None:
        self.clock = ManualClock(NOW)
        settings = ConsoleSettings(
            rabbitmq_url=isolated.rabbitmq_url,
            mongodb_url=isolated.mongodb_url,
            mongodb_database=isolated.database("console"),
            retry_delays_ms=(50, 100, 200),
            operator_api_key=OPERATOR_KEY,
            viewer_api_key=VIEWER_KEY,
        )
        self.app = create_app(settings, self.clock)
        self.served = ServedApp(self.app, "127.0.0.1", free_port())
        self.publisher = Publisher(channel, app_id="test")

    async def publish(self, message: Message, event_id: str) -> None:
        await self.publisher.publish(
            envelope(message, source="test", time=self.clock.now(), event_id=event_id)
        )

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.served.url, headers=headers, timeout=10)


@pytest.fixture
async def console(isolated: Isolated, amqp: AbstractChannel) -> AsyncIterator[Console]:
    running = Console(isolated, amqp)
    await running.served.start()  # the lifespan starts the runtime: inbox bound from here
    try:
        yield running
    finally:
        await running.served.stop()


async def _page(http: httpx.AsyncClient, path: str, *expected: str) -> str:
    async def shows() -> str | None:
        answer = await http.get(path)
        return (
            answer.text
            if answer.status_code == 200 and all(e in answer.text for e in expected)
            else None
        )

    return await eventually(shows, what=f"{path} showing {expected}", timeout=15)


async def test_events_arriving_out_of_order_and_twice_make_one_timeline(console: Console) -> None:
    case_id, report_id = "C-console-1", "R-console-1"
    accepted = CaseAccepted(**facts(case_id, report_id), accepted_at=NOW - HOUR)
    # The acceptance overtakes its dispatch, and the dispatch is delivered twice.
    await console.publish(accepted, "ev-accepted")
    await console.publish(dispatched(case_id, report_id, NOW - 2 * HOUR), "ev-dispatched")
    await console.publish(dispatched(case_id, report_id, NOW - 2 * HOUR), "ev-dispatched")
    await console.publish(report(report_id), "ev-report")
    async with console.client(**{"X-Api-Key": VIEWER_KEY}) as http:
        page = await _page(http, f"/cases/{case_id}", 'data-status="in_progress"', "路面塌陷")
        assert page.count('data-kind="dispatched"') == 1
        assert page.count('data-kind="accepted"') == 1
        assert PHONE not in page  # the reply address is never kept
        found = await http.get(f"/reports/{report_id}", follow_redirects=False)
        assert found.status_code == 303
        assert found.headers["location"] == f"/cases/{case_id}"
    stored = console.app.state.deps.reports
    assert PHONE not in str(await stored.get(report_id))


async def test_a_breach_reaches_a_watching_browser_without_a_reload(console: Console) -> None:
    case_id, report_id = "C-console-2", "R-console-2"
    await console.publish(dispatched(case_id, report_id, NOW - HOUR), "ev-2-dispatched")
    async with console.client(**{"X-Api-Key": OPERATOR_KEY}) as http:
        board = await _page(http, "/board", f"/cases/{case_id}")
        assert 'data-colour="green"' in board

        heard: list[str] = []

        async def listen() -> None:
            async with http.stream("GET", "/live") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        heard.append(line.removeprefix("event: "))

        listener = asyncio.create_task(listen())
        try:
            await asyncio.sleep(0.3)  # the stream is open before the breach is published
            breach = SlaBreached(
                order_id=f"{case_id}-O1",
                case_id=case_id,
                department="city-mgmt",
                clock="accept",
                deadline=NOW - HOUR + 8 * HOUR,
                fired_at=NOW,
                late_seconds=1,
            )
            await console.publish(breach, "ev-2-breach")

            async def told() -> bool:
                return f"case-{case_id}" in heard and "board" in heard

            await eventually(
                told,
                what="the board and the case told of the breach",
                timeout=15,
            )
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        table = (await http.get("/board/table")).text
        assert 'data-colour="red"' in table


async def test_a_browser_signs_in_and_a_wrong_key_is_told_so(console: Console) -> None:
    async with console.client(accept="text/html") as http:
        answer = await http.get("/board", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin?next=/board"
        form = {"content-type": "application/x-www-form-urlencoded"}
        wrong = await http.post("/signin", content="key=guess&next=/board", headers=form)
        assert wrong.status_code == 401
        assert 'data-error="wrong_key"' in wrong.text
        assert "gridloop_console_session" not in wrong.headers.get("set-cookie", "")
        right = await http.post("/signin", content=f"key={VIEWER_KEY}&next=/board", headers=form)
        assert right.status_code == 303
        assert right.headers["location"] == "/board"
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        board = await http.get("/board")
        assert board.status_code == 200
        assert 'data-role="viewer"' in board.text
        english = await http.get("/board?lang=en")
        assert "SLA board" in english.text
        assert "gridloop_console_lang=en" in english.headers["set-cookie"]
        assert "SLA board" in (await http.get("/")).text  # the choice is kept


async def test_an_api_client_without_a_key_gets_a_machine_readable_401(console: Console) -> None:
    async with console.client() as http:
        answer = await http.get("/board")
        assert answer.status_code == 401
        assert answer.json()["code"] == "not_signed_in"
        wrong = await http.get("/board", headers={"X-Api-Key": "nobody"})
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_api_key"
        json_login = await http.post("/signin", json={"key": OPERATOR_KEY})
        assert json_login.status_code == 415
        assert json_login.json()["code"] == "form_expected"


async def test_the_overview_counts_today_with_numerators_and_denominators(
    console: Console,
) -> None:
    for number in range(3):
        case_id, report_id = f"C-ov-{number}", f"R-ov-{number}"
        await console.publish(report(report_id), f"ev-ov-report-{number}")
        await console.publish(dispatched(case_id, report_id, NOW - HOUR), f"ev-ov-d-{number}")
    late = CaseAccepted(**facts("C-ov-0", "R-ov-0"), accepted_at=NOW + 8 * HOUR)
    await console.publish(CaseAccepted(**facts("C-ov-1", "R-ov-1"), accepted_at=NOW), "ev-ov-a1")
    await console.publish(late, "ev-ov-a0")
    async with console.client(**{"X-Api-Key": VIEWER_KEY}) as http:
        # Events land while a page is drawn: wait for today's figure itself.
        page = await _page(http, "/", 'data-figure="today-acceptance_rate">33.3%')
    assert 'data-figure="today-reported">3<' in page
    assert 'data-figure="today-dispatched">3<' in page
    assert "1 / 3" in page  # 受理率: one of three accepted within 8 hours


async def test_the_board_keeps_the_newest_state_of_a_case(
    isolated: Isolated, mongo_client: Client
) -> None:
    board = OpenOrderBoard(mongo_client[isolated.database("console")][BOARD], monotonic=lambda: 0.0)
    fresh = OpenOrderBoard(mongo_client[isolated.database("console")][BOARD])
    await board.show("C-1", 2, {"open": True, "open_orders": [{"order_id": "O-2"}]})
    # A replica that folded an older state writes late: the board keeps the newer one.
    await board.show("C-1", 1, {"open": True, "open_orders": [{"order_id": "O-1"}]})
    [shown] = await fresh.open_cases()
    assert shown["open_orders"] == [{"order_id": "O-2"}]
    await board.show("C-1", 3, {"open": False, "open_orders": []})
    await board.show("C-1", 2, {"open": True, "open_orders": [{"order_id": "O-2"}]})
    assert (
        await OpenOrderBoard(mongo_client[isolated.database("console")][BOARD]).open_cases() == []
    )


async def test_a_board_read_after_the_first_asks_for_the_changes_and_sees_them(
    isolated: Isolated, mongo_client: Client
) -> None:
    collection = mongo_client[isolated.database("console")][BOARD]
    moment = [0.0]
    reader = OpenOrderBoard(collection, monotonic=lambda: moment[0])
    writer = OpenOrderBoard(collection)
    await writer.show("C-1", 1, {"open": True, "open_orders": []})
    await writer.show("C-2", 1, {"open": True, "open_orders": []})
    assert {c["_id"] for c in await reader.open_cases()} == {"C-1", "C-2"}
    await writer.show("C-1", 2, {"open": False, "open_orders": []})
    await writer.show("C-3", 1, {"open": True, "open_orders": []})
    assert {c["_id"] for c in await reader.open_cases()} == {"C-1", "C-2"}  # one shared read
    moment[0] += 1.0  # past BOARD_READ_SECONDS, well before a full read
    assert {c["_id"] for c in await reader.open_cases()} == {"C-2", "C-3"}
