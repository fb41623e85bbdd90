"""Channel adapters behind one small interface: chat-group webhook, SMS gateway, webhook, e-mail."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx

from gridloop_common.clock import Clock
from gridloop_common.idempotency import IDEMPOTENCY_HEADER
from gridloop_notify.delivery import Outcome, http_outcome
from gridloop_notify.notices import REPORTER_WEBHOOK_SIGNER
from gridloop_notify.repository import SubscriptionRepository
from gridloop_notify.signing import SIGNATURE_HEADER, signature

USER_AGENT = "gridloop-notify/0.1"


@dataclass(frozen=True)
class Outbound:
    """One message to one recipient: the notice's words and data plus where it goes."""

    delivery_id: str
    notice_id: str
    kind: str
    recipient_id: str
    address: str
    title: str
    text: str
    data: Mapping[str, Any]
    secret_ref: str | None = None


class Channel(Protocol):
    """Sends one message and answers what happened (delivered / retry / failed); it raises only
    for its own bugs. Reasons never quote a URL, an address or a response body: URLs may carry
    tokens, addresses are personal data."""

    @property
    def name(self) -> str: ...

    async def send(self, message: Outbound) -> Outcome: ...


class SecretMissing(LookupError):
    """The secret a delivery was planned with no longer exists (its subscription was removed)."""


@dataclass(frozen=True)
class SigningSecrets:
    """Finds a delivery's signing secret by its reference: the reporter webhook's setting, or
    a subscription's own secret (read when sent, so a removed subscription signs nothing)."""

    reporter_webhook_secret: str
    subscriptions: SubscriptionRepository

    async def __call__(self, reference: str) -> str:
        if not reference:
            return ""
        if reference == REPORTER_WEBHOOK_SIGNER:
            return self.reporter_webhook_secret
        kind, _, identifier = reference.partition(":")
        if kind == "subscription":
            secret = await self.subscriptions.secret_of(identifier)
            if secret is None:
                raise SecretMissing(f"subscription {identifier} was removed")
            return secret
        raise SecretMissing(f"unknown secret reference {kind!r}")


# Finds the signing secret of a delivery ("" signs nothing); raises SecretMissing.
SecretLookup = Callable[[str], Awaitable[str]]


class HttpPoster:
    """POSTs JSON with the idempotency key and an optional signature, bounded in time.

    Requests go round the given pools: several small pools instead of one big one, because
    httpx's pool spends more time choosing a connection the more connections it holds.
    """

    def __init__(
        self, clients: Sequence[httpx.AsyncClient], timeout_seconds: float, clock: Clock
    ) -> None:
        self._clients = itertools.cycle(clients)
        self._timeout = timeout_seconds
        self._clock = clock

    async def post(
        self, url: str, body: Mapping[str, Any], idempotency_key: str, secret: str
    ) -> Outcome:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            IDEMPOTENCY_HEADER: idempotency_key,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), raw)
        try:
            # httpx's timeout is per phase; this bounds the whole call, which the lease relies on.
            async with asyncio.timeout(self._timeout):
                response = await next(self._clients).post(url, content=raw, headers=headers)
        except TimeoutError:
            return Outcome.retry(f"no answer within {self._timeout:g}s")
        except httpx.HTTPError as error:
            # The type name only: httpx messages can quote the URL, which may carry a token.
            return Outcome.retry(f"unreachable: {type(error).__name__}")
        return http_outcome(
            response.status_code,
            response.reason_phrase,
            response.headers.get("Retry-After"),
            self._clock.now(),
        )


def envelope(message: Outbound) -> dict[str, Any]:
    """Fields every HTTP body carries, beside the notice's own data."""
    return {
        **message.data,
        "delivery_id": message.delivery_id,
        "notice_id": message.notice_id,
        "kind": message.kind,
        "title": message.title,
        "text": message.text,
    }


class ChatGroupChannel:
    """One POST per chat group to the chat platform's bot webhook; the group id in the body."""

    name = "chat_group"

    def __init__(self, poster: HttpPoster, url: str, secret: str) -> None:
        self._poster = poster
        self._url = url
        self._secret = secret

    async def send(self, message: Outbound) -> Outcome:
        body = {**envelope(message), "group_id": message.address}
        return await self._poster.post(self._url, body, message.delivery_id, self._secret)


class SmsGatewayChannel:
    """One POST per text message to the SMS gateway: number and text, nothing else personal."""

    name = "sms"

    def __init__(self, poster: HttpPoster, url: str, secret: str) -> None:
        self._poster = poster
        self._url = url
        self._secret = secret

    async def send(self, message: Outbound) -> Outcome:
        body = {
            "delivery_id": message.delivery_id,
            "notice_id": message.notice_id,
            "kind": message.kind,
            "to": message.address,
            "text": sms_text(message.title, message.text),
        }
        case_id = message.data.get("case_id")
        if case_id:
            body["case_id"] = case_id
        return await self._poster.post(self._url, body, message.delivery_id, self._secret)


def sms_text(title: str, text: str) -> str:
    # A notice's text usually starts with its title already (alerts); do not say it twice.
    return text if text.startswith(title) else f"【{title}】{text}"


class WebhookChannel:
    """A generic signed webhook: the URL is the recipient's (a subscription, the reporter hook)."""

    name = "webhook"

    def __init__(self, poster: HttpPoster, secrets: SecretLookup) -> None:
        self._poster = poster
        self._secrets = secrets

    async def send(self, message: Outbound) -> Outcome:
        try:
            secret = await self._secrets(message.secret_ref or "")
        except SecretMissing as missing:
            return Outcome.failed(str(missing))
        body = {**envelope(message), "recipient_id": message.recipient_id}
        return await self._poster.post(message.address, body, message.delivery_id, secret)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    security: str  # none | starttls | tls
    mail_from: str
    timeout_seconds: float


class EmailChannel:
    """One message per recipient over SMTP; the delivery id is the Message-ID, which mail
    systems deduplicate on, as HTTP receivers do on the Idempotency-Key."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def compose(self, message: Outbound) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._settings.mail_from
        mail["To"] = message.address
        mail["Subject"] = message.title
        mail["Message-ID"] = f"<{message.delivery_id}@notify.gridloop>"
        mail["X-Gridloop-Notice"] = message.notice_id
        mail["X-Gridloop-Kind"] = message.kind
        mail.set_content(message.text)
        return mail

    async def send(self, message: Outbound) -> Outcome:
        s = self._settings
        try:
            await aiosmtplib.send(
                self.compose(message),
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=s.password or None,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            # Only the code: the server's text usually quotes the address.
            if any(400 <= code < 500 for code in codes):
                return Outcome.retry(f"SMTP {codes[0]} recipient deferred")
            return Outcome.failed(f"SMTP {codes[0] if codes else 550} recipient refused")
        except aiosmtplib.SMTPResponseException as error:
            if 400 <= error.code < 500:
                return Outcome.retry(f"SMTP {error.code} temporary failure")
            return Outcome.failed(f"SMTP {error.code} refused")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return Outcome.retry(f"SMTP server unreachable: {type(error).__name__}")
        return Outcome.delivered("SMTP 250 accepted")
