"""Machine-readable HTTP errors shared by every service: 422 lists, 413, and 503 for a lost DB."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException

log = structlog.stdlib.get_logger("gridloop.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RETRY_AFTER_SECONDS = 5


def error_body(
    code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return body


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location]
    # "body"/"query"/"header" prefix is FastAPI's bookkeeping; keep it only when it is all there is.
    return ".".join(parts[1:]) if len(parts) > 1 else (parts[0] if parts else "(request)")


async def _invalid_request(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": _field(e["loc"]), "reason": str(e["msg"])} for e in error.errors()]
    return JSONResponse(
        error_body("invalid_request", "the request is not valid; see errors", errors),
        status_code=422,
    )


# The framework's own refusals (a body it cannot parse, an unknown path or method), in the
# shared shape: a client branches on `code` whoever refused it.
_FRAMEWORK_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
}


async def _framework_refusal(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _FRAMEWORK_CODES.get(error.status_code, f"http_{error.status_code}")
    detail = str(error.detail)
    if error.status_code == 400 and "parsing the body" in detail:
        # FastAPI's words for a body that is not JSON at all (bytes that are not UTF-8, say).
        code, detail = "unreadable_body", "the body could not be read as JSON"
    return JSONResponse(
        error_body(code, detail), status_code=error.status_code, headers=error.headers
    )


async def _database_unavailable(_: Request, error: Exception) -> JSONResponse:
    log.warning("database_unavailable", reason=type(error).__name__)
    return JSONResponse(
        error_body("database_unavailable", "the database cannot be reached; retry later"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class ApiProblem(Exception):
    """Raised anywhere in a request (a dependency, say): answered as the machine-readable error
    body (`code`, `detail`, extra fields); a 401 says which scheme it wants."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


async def _api_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiProblem)
    response = JSONResponse(
        {**error_body(error.code, error.detail), **error.extra},
        status_code=error.status,
        headers=error.headers,
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "ApiKey"
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _framework_refusal)
    # ServerSelectionTimeoutError and AutoReconnect are ConnectionFailures: the database is gone.
    app.add_exception_handler(ConnectionFailure, _database_unavailable)
    app.add_exception_handler(ServerSelectionTimeoutError, _database_unavailable)


class BodySizeLimit:
    """Answers 413 as soon as a request body exceeds `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            error_body("body_too_large", f"request bodies are limited to {self.max_bytes} bytes"),
            status_code=413,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(k, v) for k, v in response.raw_headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


class _BodyTooLarge(Exception):
    pass
