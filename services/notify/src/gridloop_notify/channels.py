"""Delivery channels behind one small interface; today the reporter webhook and record-only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from gridloop_notify.notices import Notice, is_permanent_failure, is_success

USER_AGENT = "gridloop-notify/0.1"


@dataclass(frozen=True)
class Receipt:
    """A channel's word that it is done with a notice: handed over, or deliberately not sent."""

    status: Literal["delivered", "skipped"]
    detail: str


class DeliveryFailed(Exception):
    """The channel could not hand the notice over; `permanent` means retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    """Every adapter (webhook, SMS, chat group...) sends one notice or raises DeliveryFailed."""

    @property
    def name(self) -> str: ...

    async def send(self, notice: Notice) -> Receipt: ...


class RecordOnlyChannel:
    """Used when no endpoint is configured: the notice is kept, nothing leaves the service."""

    name = "none"

    async def send(self, notice: Notice) -> Receipt:
        return Receipt("skipped", "no reporter channel configured")


class WebhookChannel:
    """POSTs the notice's JSON body; the notice id is the Idempotency-Key, same on every retry."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient, url: str, timeout_seconds: float) -> None:
        self._client = client
        self._url = url
        self._timeout = timeout_seconds

    async def send(self, notice: Notice) -> Receipt:
        try:
            # httpx's timeout is per phase; this bounds the whole call, which the lease relies on.
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(
                    self._url,
                    json=dict(notice.body),
                    headers={"Idempotency-Key": notice.notice_id, "User-Agent": USER_AGENT},
                )
        except TimeoutError:
            raise DeliveryFailed(
                f"webhook gave no answer within {self._timeout}s", permanent=False
            ) from None
        except httpx.HTTPError as error:
            # The type name only: httpx messages can quote the URL, which may carry a token.
            raise DeliveryFailed(
                f"webhook unreachable: {type(error).__name__}", permanent=False
            ) from None
        status = response.status_code
        if is_success(status):
            return Receipt("delivered", f"HTTP {status}")
        raise DeliveryFailed(
            f"webhook answered HTTP {status} {response.reason_phrase}".strip(),
            permanent=is_permanent_failure(status),
        )
