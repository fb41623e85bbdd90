"""Channel adapters against an in-memory HTTP transport: bodies, headers, signatures, verdicts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from gridloop_common.clock import ManualClock
from gridloop_notify.channels import (
    ChatGroupChannel,
    EmailChannel,
    HttpPoster,
    Outbound,
    SecretMissing,
    SmsGatewayChannel,
    SmtpSettings,
    WebhookChannel,
    sms_text,
)
from gridloop_notify.signing import verify

URL = "http://receiver.test/hook?token=s3cret"
CLOCK = ManualClock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))


def message(address: str = "grp-xijin-001-01-1", secret_ref: str | None = None) -> Outbound:
    return Outbound(
        delivery_id="d-1",
        notice_id="N-1",
        kind="broadcast",
        recipient_id="grp-xijin-001-01-1",
        address=address,
        title="停水通知",
        text="明日停水。",
        data={"audience": {"level": "city", "ids": []}},
        secret_ref=secret_ref,
    )


def poster(respond: Callable[[httpx.Request], httpx.Response]) -> HttpPoster:
    return HttpPoster([httpx.AsyncClient(transport=httpx.MockTransport(respond))], 5, CLOCK)


def recording(
    status: int = 200,
) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return seen, respond


async def test_chat_group_posts_the_group_id_under_the_delivery_key_and_signs_when_told() -> None:
    seen, respond = recording()
    outcome = await ChatGroupChannel(poster(respond), URL, "chat-secret-chat-secret").send(
        message()
    )
    assert outcome.kind == "delivered"
    (request,) = seen
    assert str(request.url) == URL
    assert request.headers["Idempotency-Key"] == "d-1"
    body = json.loads(request.content)
    assert (body["group_id"], body["notice_id"], body["title"]) == (
        "grp-xijin-001-01-1",
        "N-1",
        "停水通知",
    )
    assert verify(
        "chat-secret-chat-secret",
        request.headers["X-Gridloop-Signature"],
        request.content,
        time.time(),
    )


async def test_without_a_secret_nothing_is_signed() -> None:
    seen, respond = recording()
    await ChatGroupChannel(poster(respond), URL, "").send(message())
    assert "X-Gridloop-Signature" not in seen[0].headers


async def test_sms_carries_number_and_text_only() -> None:
    seen, respond = recording()
    await SmsGatewayChannel(poster(respond), URL, "").send(message(address="+86-000-00000001"))
    assert json.loads(seen[0].content) == {
        "delivery_id": "d-1",
        "notice_id": "N-1",
        "kind": "broadcast",
        "to": "+86-000-00000001",
        "text": "【停水通知】明日停水。",
    }
    assert sms_text("【预警】工单", "【预警】工单 O-1 …") == "【预警】工单 O-1 …"


async def test_a_webhook_is_signed_with_its_subscriptions_secret_and_fails_once_it_is_gone() -> (
    None
):
    seen, respond = recording()

    async def secrets(reference: str) -> str:
        if reference == "subscription:S-1":
            return "subscriber-secret-0001"
        raise SecretMissing("subscription S-2 was removed")

    channel = WebhookChannel(poster(respond), secrets)
    assert (
        await channel.send(message("https://hook.example/a", "subscription:S-1"))
    ).kind == "delivered"
    assert verify(
        "subscriber-secret-0001",
        seen[0].headers["X-Gridloop-Signature"],
        seen[0].content,
        time.time(),
    )
    assert json.loads(seen[0].content)["recipient_id"] == "grp-xijin-001-01-1"
    gone = await channel.send(message("https://hook.example/b", "subscription:S-2"))
    assert (gone.kind, gone.detail) == ("failed", "subscription S-2 was removed")
    assert len(seen) == 1


async def test_an_unreachable_receiver_is_retried_without_quoting_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            "cannot reach http://receiver.test/hook?token=s3cret", request=request
        )

    outcome = await ChatGroupChannel(poster(refuse), URL, "").send(message())
    assert (outcome.kind, outcome.detail) == ("retry", "unreachable: ConnectError")


@pytest.mark.parametrize(("status", "kind"), [(410, "failed"), (429, "retry"), (502, "retry")])
async def test_http_answers_become_outcomes(status: int, kind: str) -> None:
    _, respond = recording(status)
    outcome = await ChatGroupChannel(poster(respond), URL, "").send(message())
    assert outcome.kind == kind
    assert outcome.detail.startswith(f"HTTP {status}")


def test_an_email_uses_the_delivery_id_as_message_id() -> None:
    channel = EmailChannel(
        SmtpSettings("127.0.0.1", 25, "", "", "none", "notify <n@gridloop.invalid>", 5)
    )
    mail = channel.compose(message(address="supervisor@ningguo.example"))
    assert mail["To"] == "supervisor@ningguo.example"
    assert mail["Message-ID"] == "<d-1@notify.gridloop>"
    assert mail["Subject"] == "停水通知"
    assert mail.get_content().strip() == "明日停水。"
