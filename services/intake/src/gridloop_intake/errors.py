"""intake's error answers: 422 lists of field and reason; Open311's own format under /open311/."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import WebSocketRequestValidationError
from fastapi.responses import JSONResponse, Response

from gridloop_common.http_errors import error_body
from gridloop_intake.submission import Problem, SubmissionRejected

OPEN311_PATHS = "/open311/"
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def open311_error(status: int, description: str, field: str | None = None) -> JSONResponse:
    return open311_errors(status, [Problem(field or "", description)])


def open311_errors(
    status: int, problems: list[Problem], headers: dict[str, str] | None = None
) -> JSONResponse:
    """GeoReport v2's error list, one element per problem, plus the field it concerns."""
    body: list[dict[str, Any]] = []
    for problem in problems:
        item: dict[str, Any] = {"code": status, "description": problem.reason}
        if problem.field:
            item["field"] = problem.field
        body.append(item)
    return JSONResponse(body, status_code=status, headers=headers)


async def _rejected(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SubmissionRejected)
    if request.url.path.startswith(OPEN311_PATHS):
        return open311_errors(422, list(error.problems))
    errors = [{"field": p.field, "reason": p.reason} for p in error.problems]
    return JSONResponse(error_body(error.code, str(error), errors), status_code=422)


def _in_open311_format(handler: Handler) -> Handler:
    """The shared handler's answer, re-rendered as Open311's error list under /open311/."""

    async def handle(request: Request, error: Exception) -> Response:
        response = handler(request, error)
        if not isinstance(response, Response):
            response = await response
        if not request.url.path.startswith(OPEN311_PATHS) or not response.body:
            return response
        body = json.loads(bytes(response.body))
        if "errors" in body:
            problems = [Problem(e["field"], e["reason"]) for e in body["errors"]]
        else:
            problems = [Problem("", str(body.get("detail")))]
        # Retry-After, Allow and the like still apply; the body's length and type do not.
        headers = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
        }
        return open311_errors(response.status_code, problems, headers)

    return handle


def install(app: FastAPI) -> None:
    # Open311 clients read every error in the spec's list: 404s, bad queries, a lost database.
    for key, handler in list(app.exception_handlers.items()):
        if key is not WebSocketRequestValidationError:
            app.add_exception_handler(key, _in_open311_format(handler))
    app.add_exception_handler(SubmissionRejected, _rejected)
