"""The other services' HTTP APIs, as the console calls them: scoring's rankings, notify's
notices, dispatch's operations on cases, every service's parked messages.

The console reads its own read model for what events tell; what another service computes or
does (a ranking, a notice's delivery) it asks that service for, with the staff key of the
signed-in role: the viewer's key for a viewer, so a viewer's session cannot act even through
the console. A refusal comes back as `UpstreamError` with the service's own code and words,
which the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from gridloop_common.api_keys import API_KEY_HEADER
from gridloop_console.sessions import Role

TIMEOUT_SECONDS = 10.0


def with_times(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer's moments (`created_at`, `completed_at`...: ISO 8601 in JSON) as datetimes,
    which is what the pages format; any other field as it came."""
    return {
        name: datetime.fromisoformat(value)
        if name.endswith("_at") and isinstance(value, str)
        else value
        for name, value in answer.items()
    }


class UpstreamError(Exception):
    def __init__(self, service: str, status: int, code: str, detail: str) -> None:
        super().__init__(f"{service} answered {status} {code}: {detail}")
        self.service = service
        self.status = status
        self.code = code
        self.detail = detail

    @property
    def answer_status(self) -> int:
        """What the console answers: the service's refusal as it is, its outage as a 502."""
        return self.status if 400 <= self.status < 500 else 502


@dataclass(frozen=True)
class Csv:
    content: bytes
    filename: str


class Upstream:
    def __init__(
        self,
        *,
        urls: dict[str, str],
        operator_key: str,
        viewer_key: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        # Service name ("scoring", "sla-monitor") → its base URL.
        self._urls = {service: url.rstrip("/") for service, url in urls.items()}
        self._keys = {Role.OPERATOR: operator_key, Role.VIEWER: viewer_key or operator_key}
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)

    async def close(self) -> None:
        await self._http.aclose()

    async def ranking(self, role: Role, period: str, level: str, metric: str) -> dict[str, Any]:
        query = {"period": period, "level": level, "metric": metric}
        answer = await self._call(role, "scoring", "GET", "/v1/rankings", params=query)
        return dict(answer.json())

    async def grades(self, role: Role, quarter: str, level: str) -> dict[str, Any]:
        query = {"period": quarter, "level": level}
        answer = await self._call(role, "scoring", "GET", "/v1/grades", params=query)
        return dict(answer.json())

    async def ranking_csv(self, role: Role, period: str, level: str, metric: str) -> Csv:
        query = {"period": period, "level": level, "metric": metric}
        answer = await self._call(
            role, "scoring", "GET", "/v1/rankings", params=query, accept="text/csv"
        )
        return Csv(answer.content, f"ranking-{level}-{metric}-{period}.csv")

    async def send_notice(
        self, role: Role, notice: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        answer = await self._call(
            role,
            "notify",
            "POST",
            "/v1/notices",
            json=notice,
            headers={"Idempotency-Key": idempotency_key},
        )
        return dict(answer.json())

    async def notice(self, role: Role, notice_id: str) -> dict[str, Any]:
        answer = await self._call(
            role, "notify", "GET", f"/v1/notices/{notice_id}", params={"limit": 1}
        )
        return with_times(answer.json())

    async def dispatch_action(
        self, role: Role, path: str, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """One of the center's operations on a case or order (dispatch's operator API)."""
        answer = await self._call(
            role,
            "dispatch",
            "POST",
            path,
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )
        return dict(answer.json())

    async def parked(self, role: Role, service: str, limit: int) -> dict[str, Any]:
        """A service's parked messages: how many, by reason, the oldest `limit`."""
        answer = await self._call(role, service, "GET", "/v1/parked", params={"limit": limit})
        return dict(answer.json())

    async def replay_parked(
        self, role: Role, service: str, chosen: dict[str, Any]
    ) -> dict[str, Any]:
        answer = await self._call(role, service, "POST", "/v1/parked/replay", json=chosen)
        return dict(answer.json())

    async def _call(
        self,
        role: Role,
        service: str,
        method: str,
        path: str,
        *,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
        **request: Any,
    ) -> httpx.Response:
        sent = {API_KEY_HEADER: self._keys[role], "Accept": accept, **(headers or {})}
        try:
            answer = await self._http.request(
                method, self._urls[service] + path, headers=sent, **request
            )
        except httpx.HTTPError as error:
            raise UpstreamError(service, 503, "unreachable", str(error) or "no answer") from error
        if answer.status_code >= 400:
            raise _refusal(service, answer)
        return answer


def _refusal(service: str, answer: httpx.Response) -> UpstreamError:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or answer.text[:200] or answer.reason_phrase)
    return UpstreamError(service, answer.status_code, str(body.get("code") or "error"), detail)
