"""notify's HTTP API for subscriptions: who hears which alerts (and notices), and where."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gridloop_common.catalogue import CATEGORIES_BY_CODE, DEPARTMENTS_BY_CODE
from gridloop_common.http import problem
from gridloop_common.http_errors import error_body
from gridloop_common.idempotency import (
    REPLAYED_HEADER,
    IdempotencyKey,
    id_for_key,
    request_fingerprint,
)
from gridloop_common.staff import authenticated_staff
from gridloop_notify.alerts import SUBSCRIBABLE, Filters, Subscription, inapplicable_filters
from gridloop_notify.api import STAFF_ONLY, Deps
from gridloop_notify.settings import http_url

router = APIRouter(
    prefix="/v1",
    tags=["subscriptions"],
    dependencies=[Depends(authenticated_staff)],
    responses=STAFF_ONLY,
)

Code = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
EventName = Literal["sla.warning", "sla.breached", "case.flagged", "notice"]
Colour = Literal["yellow", "red"]
# Deliberately loose: the mail server is the judge of an address; this only refuses what
# cannot be one (no @, spaces, header injection).
_EMAIL_FORBIDDEN = set(" \t\r\n<>,;")


class FiltersIn(BaseModel):
    """Each filter, when given, must contain the event's value; empty or absent means any."""

    model_config = ConfigDict(extra="forbid")

    departments: list[Code] = Field(default_factory=list, max_length=200)
    township_ids: list[Code] = Field(default_factory=list, max_length=200)
    category_codes: list[Code] = Field(default_factory=list, max_length=500)
    colours: list[Colour] = Field(default_factory=list, max_length=2)


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook"]
    url: str = Field(max_length=2_000)
    # Signs every delivery (X-Gridloop-Signature); notify makes one up when none is given and
    # returns it once, in the answer to this request.
    secret: str | None = Field(default=None, min_length=16, max_length=200)

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a webhook needs a URL")
        return http_url(value)


class EmailEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["email"]
    address: str = Field(min_length=3, max_length=254)

    @field_validator("address")
    @classmethod
    def _looks_like_an_address(cls, value: str) -> str:
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or "." not in domain or _EMAIL_FORBIDDEN & set(value.strip()):
            raise ValueError("not an e-mail address")
        return value.strip()


class SubscriptionIn(BaseModel):
    """Who hears which of sla.warning, sla.breached, case.flagged and notices, and where."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        default="", max_length=200, description="A label for people, e.g. a duty desk"
    )
    events: list[EventName] = Field(min_length=1, max_length=len(SUBSCRIBABLE))
    filters: FiltersIn = Field(default_factory=FiltersIn)
    endpoint: WebhookEndpoint | EmailEndpoint = Field(discriminator="kind")


class SubscriptionView(BaseModel):
    subscription_id: str
    name: str
    events: list[str]
    filters: dict[str, list[str]]
    endpoint: dict[str, str]
    created_at: datetime
    # Only in the answer that created it, and only when notify made it up.
    secret: str | None = None


def view(subscription: Subscription, with_secret: bool = False) -> SubscriptionView:
    address_field = "url" if subscription.endpoint_kind == "webhook" else "address"
    shown = with_secret and subscription.secret_generated
    return SubscriptionView(
        subscription_id=subscription.subscription_id,
        name=subscription.name,
        events=list(subscription.events),
        filters=subscription.filters.as_document(),
        endpoint={"kind": subscription.endpoint_kind, address_field: subscription.address},
        created_at=subscription.created_at,
        secret=subscription.secret if shown else None,
    )


def filters_of(filters: FiltersIn) -> Filters:
    return Filters(
        departments=frozenset(filters.departments),
        township_ids=frozenset(filters.township_ids),
        category_codes=frozenset(filters.category_codes),
        colours=frozenset(filters.colours),
    )


def new_subscription(
    body: SubscriptionIn, identifier: str, now: datetime, request_fingerprint: str
) -> Subscription:
    """The subscription a valid request asks for; notify makes up a webhook's signing secret
    when the request brings none."""
    endpoint = body.endpoint
    secret = ""
    if isinstance(endpoint, WebhookEndpoint):
        secret = endpoint.secret or secrets.token_urlsafe(32)
    return Subscription(
        subscription_id=identifier,
        name=body.name,
        events=tuple(dict.fromkeys(body.events)),
        filters=filters_of(body.filters),
        endpoint_kind=endpoint.kind,
        address=endpoint.url if isinstance(endpoint, WebhookEndpoint) else endpoint.address,
        created_at=now,
        secret=secret,
        secret_generated=isinstance(endpoint, WebhookEndpoint) and endpoint.secret is None,
        request_fingerprint=request_fingerprint,
    )


def problems(body: SubscriptionIn, deps: Deps) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    filters = body.filters
    unknown = {
        "filters.departments": [d for d in filters.departments if d not in DEPARTMENTS_BY_CODE],
        "filters.township_ids": [
            t for t in filters.township_ids if deps.registry.township(t) is None
        ],
        "filters.category_codes": [
            c for c in filters.category_codes if c not in CATEGORIES_BY_CODE
        ],
    }
    for field, values in unknown.items():
        if values:
            found.append({"field": field, "reason": f"unknown: {', '.join(values)}"})
    for event, names in inapplicable_filters(body.events, filters_of(filters)).items():
        found.append(
            {
                "field": "filters",
                "reason": f"{event} carries no {' or '.join(names)}, so it could never match",
            }
        )
    return found


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionView,
    responses={422: {"description": "Invalid input, unknown codes, or a filter that cannot match"}},
    summary="Subscribe a webhook or e-mail address to alerts and notices",
)
async def create_subscription(
    body: SubscriptionIn, request: Request, deps: Deps, idempotency_key: IdempotencyKey = None
) -> Any:
    found = problems(body, deps)
    if body.endpoint.kind == "email" and "email" not in deps.settings.configured_channels():
        found.append(
            {"field": "endpoint.kind", "reason": "e-mail is not configured (NOTIFY_SMTP_HOST)"}
        )
    if found:
        return JSONResponse(
            error_body("invalid_request", "the subscription is not valid; see errors", found),
            status_code=422,
        )
    scope = request.url.path
    identifier = (
        id_for_key("S-", "subscription", scope, idempotency_key, 16)
        if idempotency_key
        else "S-" + uuid.uuid4().hex[:16]
    )
    fingerprint = request_fingerprint(scope, await request.body())
    subscription, replayed = await deps.service.subscribe(
        new_subscription(body, identifier, deps.clock.now(), fingerprint)
    )
    headers = {"Location": f"/v1/subscriptions/{identifier}"}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(
        jsonable_encoder(view(subscription, with_secret=True).model_dump(exclude_none=True)),
        status_code=201,
        headers=headers,
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionView,
    response_model_exclude_none=True,
    summary="One subscription (its secret is never shown again)",
)
async def get_subscription(subscription_id: str, deps: Deps) -> Any:
    subscription = await deps.subscriptions.get(subscription_id)
    if subscription is None:
        return problem(404, "subscription_not_found", f"no subscription {subscription_id}")
    return view(subscription)


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionView]
    # Pass as `after` for the next page; None on the last.
    next_after: datetime | None = None


@router.get(
    "/subscriptions", response_model=SubscriptionList, summary="Subscriptions, oldest first"
)
async def list_subscriptions(
    deps: Deps,
    after: Annotated[datetime | None, Query(description="created_at of the last one seen")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    found = await deps.subscriptions.listing(after, limit)
    return SubscriptionList(
        subscriptions=[view(subscription) for subscription in found],
        next_after=found[-1].created_at if len(found) == limit else None,
    )


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    responses={404: {"description": "No such subscription"}},
    summary="Stop a subscription; its pending webhook deliveries fail as removed",
)
async def delete_subscription(subscription_id: str, deps: Deps) -> Response:
    if not await deps.subscriptions.delete(subscription_id):
        return problem(404, "subscription_not_found", f"no subscription {subscription_id}")
    return Response(status_code=204)
