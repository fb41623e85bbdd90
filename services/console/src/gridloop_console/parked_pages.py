"""Parked messages (滞留消息): how many wait in each service's parking queue and why, and putting
them back in the service's inbox from the page once their cause is mended.

Each service answers for its own queue (`/v1/parked`, gridloop_common.parked_api) with the
signed-in role's key, so a viewer sees and cannot replay even through the console; the
console's own queue is read in process. A replay names a reason (every message parked for it)
or one message; the page it leads back to says how many went back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from gridloop_common.http_errors import ApiProblem
from gridloop_common.parked_api import ReplayRequest
from gridloop_common.services import SERVICES
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.sessions import Role
from gridloop_console.upstream import UpstreamError, with_times
from gridloop_console.web import Deps, Visitor, form_fields, render, require_operator

router = APIRouter(tags=["console"])

# The oldest parked messages listed per service (the counts cover up to a thousand).
LISTED = 20


@dataclass(frozen=True)
class Parking:
    """One service's parking queue as the page shows it: its listing, or why there is none."""

    service: str
    listing: dict[str, Any] | None = None
    error: UpstreamError | None = None


@router.get("/parked", response_class=HTMLResponse, summary="Parked messages of every service")
async def parked_page(
    request: Request,
    deps: Deps,
    role: Visitor,
    service: Annotated[str | None, Query(max_length=40)] = None,
    replayed: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    done = {"service": service, "count": replayed} if service in SERVICES else None
    return await _page(request, deps, role, done=done, error=None)


@router.post("/parked/replay", response_class=HTMLResponse, summary="Replay parked messages")
async def replay(request: Request, deps: Deps, role: Visitor) -> Response:
    require_operator(role)
    first = {name: values[0] for name, values in (await form_fields(request)).items()}
    service = first.get("service", "")
    if service not in SERVICES:
        raise ApiProblem(422, "unknown_service", f"not a gridloop service: {service[:40]!r}")
    chosen = {
        **({"reason_code": first["reason_code"]} if first.get("reason_code") else {}),
        **({"message_ids": [first["message_id"]]} if first.get("message_id") else {}),
    }
    try:
        ReplayRequest.model_validate(chosen)  # the service's own rule, judged here first
    except ValidationError as invalid:
        problems = "; ".join(str(item["msg"]) for item in invalid.errors())
        raise ApiProblem(422, "invalid_replay", problems) from None
    try:
        answer = await _replay(deps, role, service, chosen)
    except UpstreamError as refused:
        return await _page(
            request, deps, role, done=None, error=refused, status_code=refused.answer_status
        )
    back = urlencode({"service": service, "replayed": len(answer["replayed"])})
    return RedirectResponse(f"/parked?{back}", status_code=303)


async def _page(
    request: Request,
    deps: ConsoleDeps,
    role: Role,
    *,
    done: dict[str, Any] | None,
    error: UpstreamError | None,
    status_code: int = 200,
) -> HTMLResponse:
    parkings = await asyncio.gather(*(_parking(deps, role, service) for service in SERVICES))
    return render(
        request,
        deps,
        "parked.html",
        role=role,
        parkings=parkings,
        waiting=sum(p.listing["waiting"] for p in parkings if p.listing),
        done=done,
        error=error,
        status_code=status_code,
    )


async def _parking(deps: ConsoleDeps, role: Role, service: str) -> Parking:
    try:
        if service == deps.settings.service_name:
            listing = await _in_process(service, deps.parked.listing(LISTED))
        else:
            listing = await deps.upstream.parked(role, service, LISTED)
    except UpstreamError as refused:
        return Parking(service, error=refused)
    messages = [with_times(message) for message in listing.get("messages", [])]
    return Parking(service, listing={**listing, "messages": messages})


async def _replay(
    deps: ConsoleDeps, role: Role, service: str, chosen: dict[str, Any]
) -> dict[str, Any]:
    if service == deps.settings.service_name:
        return await _in_process(service, deps.parked.replay(ReplayRequest.model_validate(chosen)))
    return await deps.upstream.replay_parked(role, service, chosen)


async def _in_process(service: str, work: Awaitable[BaseModel]) -> dict[str, Any]:
    """The console's own queue: its refusal (the broker away) looks like any service's."""
    try:
        answer = await work
    except ApiProblem as refused:
        raise UpstreamError(service, refused.status, refused.code, refused.detail) from refused
    return dict(answer.model_dump())
