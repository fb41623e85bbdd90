"""notify's HTTP API for notices: one-click broadcasts and what became of every recipient."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gridloop_common.http import MAX_OFFSET, app_deps, problem
from gridloop_common.http_errors import error_body
from gridloop_common.idempotency import REPLAYED_HEADER, IdempotencyKey, request_fingerprint
from gridloop_common.registry import UnknownAreaError
from gridloop_common.staff import authenticated_staff
from gridloop_notify import notices as notice_rules
from gridloop_notify.audience import Audience, townships
from gridloop_notify.bootstrap import NotifyDeps
from gridloop_notify.delivery import DELIVERED, FAILED, SKIPPED
from gridloop_notify.repository import DeliveryRecord, NoticeRecord

Deps = Annotated[NotifyDeps, Depends(app_deps)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
ChannelName = Literal["chat_group", "sms", "email", "webhook"]

STAFF_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or not the operator key"},
    403: {"description": "the viewer's key, for anything but a read"},
    503: {"description": "OPERATOR_API_KEY is not configured, or the database is away"},
}

router = APIRouter(
    prefix="/v1",
    tags=["notices"],
    dependencies=[Depends(authenticated_staff)],
    responses=STAFF_ONLY,
)

# A page filtered by status reads at most this many recipients' batches before it answers
# with a cursor, so a filter that matches little never scans a whole broadcast in one request.
FILTERED_SCAN_LIMIT = 2_000


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["grid", "village", "township", "city"]
    ids: list[Identifier] | None = Field(
        default=None, max_length=5_000, description="Area ids of `level`; omitted for the city."
    )


class NoticeIn(BaseModel):
    """A one-click notice (居民通知) to every chat group and/or household of an area."""

    model_config = ConfigDict(extra="forbid")

    audience: AudienceIn
    title: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=2_000)
    channels: list[ChannelName] = Field(min_length=1, max_length=4)


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Stored; recipients are being expanded and sent to"},
    422: {"description": "Invalid input, unknown area, unconfigured channel or reused key"},
    503: {"description": "Database unavailable; see Retry-After"},
}


def invalid(code: str, detail: str, field: str, reason: str) -> JSONResponse:
    return JSONResponse(
        error_body(code, detail, [{"field": field, "reason": reason}]), status_code=422
    )


@router.post("/notices", status_code=202, responses=ACCEPTED, summary="Send a notice to an area")
async def create_notice(
    body: NoticeIn, request: Request, deps: Deps, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    audience_in = body.audience
    if audience_in.level == "city" and audience_in.ids:
        return invalid(
            "invalid_request", "the city needs no ids", "audience.ids", "omit ids for the city"
        )
    if audience_in.level != "city" and not audience_in.ids:
        return invalid(
            "invalid_request",
            f"which {audience_in.level}s?",
            "audience.ids",
            f"give at least one {audience_in.level} id",
        )
    channels = list(dict.fromkeys(body.channels))
    missing = [c for c in channels if c not in deps.settings.configured_channels()]
    if missing:
        return invalid(
            "channel_not_configured",
            "a requested channel has nowhere to send to on this deployment",
            "channels",
            f"not configured: {', '.join(missing)}",
        )
    audience = Audience(audience_in.level, tuple(dict.fromkeys(audience_in.ids or ())))
    try:
        reached = townships(deps.registry, audience)
        subscribers = await deps.service.notice_subscribers(frozenset(channels), reached)
        segments = notice_rules.broadcast_plan(deps.registry, audience, channels, subscribers)
    except UnknownAreaError as unknown:
        return invalid("unknown_area", str(unknown), "audience.ids", str(unknown))
    scope = request.url.path
    identifier = notice_rules.new_broadcast_id(scope, idempotency_key, uuid.uuid4().hex[:20])
    draft = notice_rules.broadcast_notice(
        identifier,
        audience,
        title=body.title,
        body=body.body,
        channels=channels,
        segments=segments,
    )
    stored, replayed = await deps.service.submit_later(
        draft, request_fingerprint(scope, await request.body())
    )
    headers = {"Location": f"/v1/notices/{identifier}"}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(
        {
            "notice_id": identifier,
            "status": stored.status,
            "recipients": stored.recipients,
            "recipients_by_channel": dict(stored.recipients_by_channel),
        },
        status_code=202,
        headers=headers,
    )


class Totals(BaseModel):
    recipients: int
    delivered: int
    failed: int
    skipped: int
    pending: int


class RecipientView(BaseModel):
    seq: int
    recipient_id: str
    channel: str
    delivery_id: str
    status: str
    attempts: int
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class Page(BaseModel):
    offset: int
    limit: int
    status: str | None = None
    # Where the next page starts; None when this was the last.
    next_offset: int | None = None


class NoticeView(BaseModel):
    notice_id: str
    kind: str
    status: str
    title: str
    text: str
    audience: dict[str, Any] | None = None
    channels: list[str]
    case_id: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    totals: Totals
    by_channel: dict[str, Totals]
    recipients: list[RecipientView]
    page: Page


def totals(recipients: int, counts: Mapping[str, int]) -> Totals:
    delivered, failed, skipped = (int(counts.get(s, 0)) for s in (DELIVERED, FAILED, SKIPPED))
    return Totals(
        recipients=recipients,
        delivered=delivered,
        failed=failed,
        skipped=skipped,
        pending=max(0, recipients - delivered - failed - skipped),
    )


@router.get(
    "/notices/{notice_id}",
    response_model=NoticeView,
    summary="A notice's totals and, paged by seq, every recipient's status",
)
async def get_notice(
    notice_id: str,
    deps: Deps,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="First recipient seq of the page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[
        Literal["pending", "delivered", "failed", "skipped"] | None,
        Query(description="Only recipients in this status (the page may then hold fewer)"),
    ] = None,
) -> Any:
    notice = await deps.notices.summary(notice_id)
    if notice is None:
        return problem(404, "notice_not_found", f"no notice {notice_id}")
    recipients, next_offset = await recipients_page(deps, notice, offset, limit, status)
    view = NoticeView(
        notice_id=notice_id,
        kind=notice.kind,
        status=notice.status,
        title=notice.title,
        text=notice.text,
        audience=dict(notice.audience) if notice.audience is not None else None,
        channels=list(notice.channels),
        case_id=notice.case_id,
        created_at=notice.created_at,
        completed_at=notice.completed_at,
        totals=totals(notice.recipients, notice.totals),
        by_channel={
            channel: totals(count, notice.by_channel.get(channel) or {})
            for channel, count in notice.recipients_by_channel.items()
        },
        recipients=recipients,
        page=Page(offset=offset, limit=limit, status=status, next_offset=next_offset),
    )
    return JSONResponse(jsonable_encoder(view))


async def recipients_page(
    deps: NotifyDeps, notice: NoticeRecord, offset: int, limit: int, status: str | None
) -> tuple[list[RecipientView], int | None]:
    """Recipients from seq `offset` on: `limit` of them, or with a status filter as many as a
    scan of FILTERED_SCAN_LIMIT seqs finds (the cursor then says where to go on)."""
    total = notice.recipients
    span = limit if status is None else max(limit, FILTERED_SCAN_LIMIT)
    last = min(offset + span, total) - 1
    found: list[RecipientView] = []
    next_offset: int | None = None
    if offset < total:
        deliveries = await deps.batches.deliveries(
            notice.notice_id, offset, last, notice.batch_size
        )
        for delivery in deliveries:
            if delivery.seq < offset or delivery.seq > last:
                continue
            if status is not None and delivery.status != status:
                continue
            if len(found) == limit:
                next_offset = delivery.seq
                break
            found.append(_recipient_view(delivery))
    if next_offset is None and last + 1 < total:
        next_offset = last + 1
    return found, next_offset


def _recipient_view(delivery: DeliveryRecord) -> RecipientView:
    return RecipientView(
        seq=delivery.seq,
        recipient_id=delivery.recipient_id,
        channel=delivery.channel,
        delivery_id=delivery.delivery_id,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
    )


class NoticeSummary(BaseModel):
    notice_id: str
    kind: str
    status: str
    title: str
    created_at: datetime
    completed_at: datetime | None = None
    totals: Totals


class CaseNotices(BaseModel):
    case_id: str
    notices: list[NoticeSummary]


@router.get(
    "/cases/{case_id}/notices",
    response_model=CaseNotices,
    summary="Every notice about a case (reporter feedback, alerts), oldest first",
)
async def list_case_notices(case_id: str, deps: Deps) -> Any:
    found = await deps.notices.for_case(case_id)
    if not found:
        return problem(404, "case_has_no_notices", f"notify has no notices about case {case_id}")
    return CaseNotices(
        case_id=case_id,
        notices=[
            NoticeSummary(
                notice_id=notice.notice_id,
                kind=notice.kind,
                status=notice.status,
                title=notice.title,
                created_at=notice.created_at,
                completed_at=notice.completed_at,
                totals=totals(notice.recipients, notice.totals),
            )
            for notice in found
        ],
    )
