"""intake's own error answer: a rejected submission is a 422 naming each field and reason."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gridloop_common.http_errors import error_body
from gridloop_intake.submission import SubmissionRejected


async def _rejected(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SubmissionRejected)
    errors = [{"field": p.field, "reason": p.reason} for p in error.problems]
    return JSONResponse(error_body(error.code, str(error), errors), status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SubmissionRejected, _rejected)
