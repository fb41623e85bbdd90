"""Channel adapters against an in-memory HTTP transport: headers, body and failure verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from gridloop_common.contracts import CaseAccepted
from gridloop_notify.channels import DeliveryFailed, RecordOnlyChannel, WebhookChannel
from gridloop_notify.notices import Notice, reporter_notice

URL = "http://receiver.test/hook?token=s3cret"


def notice() -> Notice:
    event = CaseAccepted(
        case_id="C-1",
        order_id="O-1",
        department="water",
        category_code="flooding",
        grid_id="g1",
        reporter_id="rp-1",
        accepted_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )
    made = reporter_notice(event, "ev-1")
    assert made is not None
    return made


def channel(respond: Callable[[httpx.Request], httpx.Response]) -> WebhookChannel:
    client = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    return WebhookChannel(client, URL, timeout_seconds=5)


async def test_webhook_posts_the_body_with_the_notice_id_as_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    sent = notice()
    receipt = await channel(respond).send(sent)
    assert receipt.status == "delivered"
    assert [r.method for r in seen] == ["POST"]
    assert str(seen[0].url) == URL
    assert seen[0].headers["Idempotency-Key"] == sent.notice_id
    assert json.loads(seen[0].content) == dict(sent.body)


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (410, True), (429, False)])
async def test_webhook_client_errors_fail_permanently_except_retry_hints(
    status: int, permanent: bool
) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        await channel(lambda _: httpx.Response(status)).send(notice())
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in caught.value.reason


async def test_webhook_server_error_is_retryable() -> None:
    with pytest.raises(DeliveryFailed) as caught:
        await channel(lambda _: httpx.Response(503)).send(notice())
    assert not caught.value.permanent


async def test_unreachable_webhook_is_retryable_and_the_reason_hides_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(DeliveryFailed) as caught:
        await channel(refuse).send(notice())
    assert not caught.value.permanent
    assert "s3cret" not in caught.value.reason
    assert caught.value.__cause__ is None


async def test_record_only_channel_sends_nothing_and_says_so() -> None:
    receipt = await RecordOnlyChannel().send(notice())
    assert receipt.status == "skipped"
