"""intake's HTTP API: native reports and the chat-group, patrol and hotline channels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from gridloop_common.api_keys import (
    API_KEY_HEADER,
    CHANNEL_KEY_SETTINGS,
    KeyedChannel,
    require_api_key,
)
from gridloop_common.http import app_deps, problem
from gridloop_common.http_errors import ApiProblem
from gridloop_common.idempotency import REPLAYED_HEADER, IdempotencyKey, request_fingerprint
from gridloop_common.registry import Registry
from gridloop_common.reporter_tokens import TOKEN_HEADER, ReporterTokens
from gridloop_intake.bootstrap import IntakeDeps
from gridloop_intake.channels import chat_group, hotline, native, patrol
from gridloop_intake.service import Outcome
from gridloop_intake.submission import Submission

Deps = Annotated[IntakeDeps, Depends(app_deps)]
ReporterToken = Annotated[
    str | None,
    Header(alias=TOKEN_HEADER, max_length=64, description="The token of the 202 answer"),
]
ApiKey = Annotated[
    str | None,
    Header(alias=API_KEY_HEADER, max_length=200, description="The channel system's key"),
]
RequestT = TypeVar("RequestT")


def client_address(request: Request) -> str:
    """The address the server sees (a reverse proxy's own unless uvicorn trusts its headers)."""
    return request.client.host if request.client else "unknown"


ClientKey = Annotated[
    str | None,
    Header(
        alias=API_KEY_HEADER,
        max_length=200,
        description="An Open311 client's key, if it has one: the rate limit counts the key",
    ),
]


async def within_rate_limit(request: Request, deps: Deps, api_key: ClientKey = None) -> None:
    """Public routes: a client with a valid Open311 key in `X-Api-Key` counts against the key,
    anyone else against their address; over the limit, 429 with Retry-After."""
    key = api_key if api_key and deps.is_open311_key(api_key) else None
    wait = deps.rate_limits.wait_seconds(address=client_address(request), key=key)
    if wait:
        who = "this key" if key else "this address"
        raise ApiProblem(
            429,
            "rate_limited",
            f"too many requests from {who}; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def channel_key(channel: KeyedChannel) -> Any:
    """The channel system's key, checked before the body is read (a stranger learns nothing
    from the validation errors of a route they may not call)."""

    async def check(deps: Deps, api_key: ApiKey = None) -> None:
        require_api_key(
            api_key,
            deps.settings.channel_api_key(channel).get_secret_value(),
            whose=f"{channel} channel's",
            setting=CHANNEL_KEY_SETTINGS[channel],
        )

    return Depends(check)


router = APIRouter(prefix="/v1")

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Stored; `status` is `received` (new problem) or `linked` (duplicate)"},
    413: {"description": "Body over the size limit"},
    422: {"description": "Invalid or unknown input; `errors` lists field and reason"},
    503: {"description": "Database unavailable; see Retry-After"},
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Over the rate limit; see Retry-After"}
}
CHANNEL_ACCEPTED: dict[int | str, dict[str, Any]] = {
    **ACCEPTED,
    401: {"description": "No key, or not this channel's key"},
    503: {"description": "Database unavailable (see Retry-After), or the channel has no key set"},
}


def outcome_body(outcome: Outcome, tokens: ReporterTokens) -> dict[str, Any]:
    return {
        "report_id": outcome.report_id,
        # Only the reporter gets it: their verdict on the case and their view of the report.
        "reporter_token": tokens.for_report(outcome.report_id),
        "status": outcome.status,
        "linked_to": outcome.linked_to,
        "grid_id": outcome.grid_id,
        "category_code": outcome.category_code,
        "location_precision": outcome.location_precision,
    }


async def accept(
    request: Request,
    deps: IntakeDeps,
    idempotency_key: str | None,
    make: Callable[[Registry, datetime], Submission],
) -> Outcome:
    """Shared by every channel: adapt, then store once (replaying a retried request)."""
    scope = request.url.path
    submission = make(deps.registry, deps.clock.now())
    return await deps.service.submit(
        submission,
        scope=scope,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint(scope, await request.body()),
    )


def accepted(outcome: Outcome, tokens: ReporterTokens) -> JSONResponse:
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else {}
    return JSONResponse(outcome_body(outcome, tokens), status_code=202, headers=headers)


@router.post(
    "/reports",
    tags=["reports"],
    status_code=202,
    responses={**ACCEPTED, **RATE_LIMITED},
    dependencies=[Depends(within_rate_limit)],
)
async def create_report(
    body: native.NewReport, request: Request, deps: Deps, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Report a problem at a grid or a point."""
    return accepted(
        await accept(
            request, deps, idempotency_key, lambda r, now: native.to_submission(body, r, now)
        ),
        deps.reporter_tokens,
    )


@router.get(
    "/reports/{report_id}",
    tags=["reports"],
    summary="A report and what became of it, for its reporter",
    responses={
        401: {"description": "no reporter token"},
        403: {"description": "not this report's token"},
        404: {"description": "no such report"},
        **RATE_LIMITED,
    },
    # Tokens are 60 bits, and guessing is slowed to the address's budget besides.
    dependencies=[Depends(within_rate_limit)],
)
async def get_report(report_id: str, deps: Deps, reporter_token: ReporterToken = None) -> Any:
    # The stored report holds the reporter's contact data: only its reporter reads it here.
    if not reporter_token:
        return problem(
            401, "missing_reporter_token", f"send the token of the 202 answer in {TOKEN_HEADER}"
        )
    if not deps.reporter_tokens.matches(report_id, reporter_token):
        return problem(403, "wrong_reporter_token", "the token is not this report's")
    document = await deps.reports.get(report_id)
    if document is None:
        return problem(404, "report_not_found", f"no report {report_id}")
    document["report_id"] = document.pop("_id")
    return JSONResponse(jsonable_encoder(document))


@router.post(
    "/channels/chat-group/messages",
    tags=["channels"],
    status_code=202,
    responses=CHANNEL_ACCEPTED,
    dependencies=[channel_key("chat-group")],
)
async def chat_group_message(
    body: chat_group.ChatMessage,
    request: Request,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A chat-group message that mentions @居民助手; the category is classified from the text."""
    return accepted(
        await accept(
            request, deps, idempotency_key, lambda r, now: chat_group.to_submission(body, r, now)
        ),
        deps.reporter_tokens,
    )


@router.post(
    "/channels/patrol/reports",
    tags=["channels"],
    status_code=202,
    responses=CHANNEL_ACCEPTED,
    dependencies=[channel_key("patrol")],
)
async def patrol_report(
    body: patrol.PatrolReport,
    request: Request,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A grid worker's patrol report; the worker's grid is known from the registry."""
    return accepted(
        await accept(
            request, deps, idempotency_key, lambda r, now: patrol.to_submission(body, r, now)
        ),
        deps.reporter_tokens,
    )


@router.post(
    "/channels/hotline/calls",
    tags=["channels"],
    status_code=202,
    responses=CHANNEL_ACCEPTED,
    dependencies=[channel_key("hotline")],
)
async def hotline_call(
    body: hotline.HotlineCall,
    request: Request,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A 12345 hotline call; the address text is placed best effort, else `unlocated`."""
    return accepted(
        await accept(
            request, deps, idempotency_key, lambda r, now: hotline.to_submission(body, r, now)
        ),
        deps.reporter_tokens,
    )
