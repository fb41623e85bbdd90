"""One-click notices (一键通知): compose one to a grid, village, township or the city with its
audience counted before sending, send it through notify, watch its delivery.

notify sends and keeps each notice's state; the console keeps the list of what was sent from
it. A send carries an Idempotency-Key made when the form was drawn, so a double click or a
resubmitted form sends once.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridloop_common.registry.model import AreaLevel
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.sessions import Role
from gridloop_console.upstream import UpstreamError
from gridloop_console.web import Deps, Visitor, form_fields, render, require_operator

router = APIRouter(tags=["console"])

LEVELS: tuple[AreaLevel, ...] = get_args(AreaLevel)
CHANNELS = ("chat_group", "sms")
LISTED = 20


def _area(level: str | None, ids: str | None) -> tuple[AreaLevel, list[str]]:
    chosen: AreaLevel = next((known for known in LEVELS if known == level), "grid")
    named = [] if chosen == "city" else [i.strip() for i in (ids or "").split(",") if i.strip()]
    return chosen, named


@router.get("/notices", response_class=HTMLResponse, summary="Compose a notice; past notices")
async def notices(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    return await _compose(request, deps, role, form={}, error=None)


async def _compose(
    request: Request,
    deps: ConsoleDeps,
    role: Role,
    *,
    form: dict[str, Any],
    error: UpstreamError | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        deps,
        "notices.html",
        role=role,
        form=form,
        error=error,
        levels=LEVELS,
        channels=CHANNELS,
        townships=deps.places.townships,
        sent=await deps.notices.latest(LISTED),
        idempotency_key=uuid.uuid4().hex,
        status_code=status_code,
    )


@router.get("/notices/audience", response_class=HTMLResponse, summary="Who a notice would reach")
async def audience(
    request: Request,
    deps: Deps,
    role: Visitor,
    level: Annotated[str | None, Query()] = None,
    ids: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    chosen, named = _area(level, ids)
    size = deps.places.audience(chosen, named) if chosen == "city" or named else None
    return render(request, deps, "_audience.html", role=role, size=size, named=named)


@router.post("/notices", response_class=HTMLResponse, summary="Send a notice (form)")
async def send_notice(request: Request, deps: Deps, role: Visitor) -> Response:
    require_operator(role)
    fields = await form_fields(request)
    first = {name: values[0] for name, values in fields.items()}
    level, ids = _area(first.get("level"), first.get("ids"))
    notice = {
        "audience": {"level": level, **({"ids": ids} if level != "city" else {})},
        "title": first.get("title", ""),
        "body": first.get("body", ""),
        "channels": [c for c in fields.get("channels", []) if c in CHANNELS],
    }
    key = first.get("idempotency_key") or uuid.uuid4().hex
    try:
        sent = await deps.upstream.send_notice(role, notice, key)
    except UpstreamError as refused:
        return await _compose(
            request, deps, role, form=first, error=refused, status_code=refused.answer_status
        )
    await deps.notices.record(
        sent["notice_id"],
        {
            "title": notice["title"],
            "audience": notice["audience"],
            "channels": notice["channels"],
            "recipients": sent.get("recipients"),
            "sent_at": deps.clock.now(),
        },
    )
    return RedirectResponse(f"/notices/{sent['notice_id']}", status_code=303)


@router.get("/notices/{notice_id}", response_class=HTMLResponse, summary="A notice's delivery")
async def notice_page(request: Request, deps: Deps, role: Visitor, notice_id: str) -> HTMLResponse:
    return await _notice(request, deps, role, notice_id, "notice.html")


@router.get(
    "/notices/{notice_id}/progress", response_class=HTMLResponse, summary="Its live fragment"
)
async def notice_progress(
    request: Request, deps: Deps, role: Visitor, notice_id: str
) -> HTMLResponse:
    return await _notice(request, deps, role, notice_id, "_notice_progress.html")


async def _notice(
    request: Request, deps: ConsoleDeps, role: Role, notice_id: str, template: str
) -> HTMLResponse:
    try:
        notice = await deps.upstream.notice(role, notice_id)
    except UpstreamError as refused:
        return render(
            request,
            deps,
            "upstream_error.html",
            role=role,
            error=refused,
            status_code=refused.answer_status,
        )
    return render(request, deps, template, role=role, notice=notice)
