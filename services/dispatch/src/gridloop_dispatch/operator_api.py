"""The center's HTTP operations, behind the operator key: triage, hand-offs, extensions, rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gridloop_common.catalogue import CATEGORIES_BY_CODE, DEPARTMENTS_BY_CODE
from gridloop_common.http import problem
from gridloop_common.idempotency import IdempotencyKey
from gridloop_common.registry import load_registry
from gridloop_common.staff import authenticated_staff
from gridloop_dispatch.api import Deps, cause_for, respond
from gridloop_dispatch.auth import department_key, hash_key, new_secret
from gridloop_dispatch.routing import CITY, RoutingRule, RuleLevel

_OPERATOR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or not the operator key"},
    403: {"description": "the viewer's key (`read_only_key`): it reads, it does not act"},
    404: {"description": "no such case or order"},
    409: {"description": "illegal transition: `code`, `detail`, `current_status`, `allowed_from`"},
    422: {"description": "invalid choice (unknown department, category, grid...)"},
    503: {"description": "OPERATOR_API_KEY is not configured"},
}

router = APIRouter(
    prefix="/v1",
    # Every route here acts: the viewer's key is refused with 403 read_only_key.
    dependencies=[Depends(authenticated_staff)],
    responses=_OPERATOR_RESPONSES,
)


class OperatorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: str = Field(min_length=1, description="who acts, for the case's timeline")
    note: str | None = None


class TriageBody(OperatorBody):
    category_code: str | None = None
    department: str | None = None
    cooperating: list[str] = Field(default_factory=list)
    grid_id: str | None = Field(default=None, description="where it is, if it was unlocated")


class RedispatchBody(OperatorBody):
    department: str
    order_id: str | None = Field(default=None, description="needed only if several were rejected")


class JointActionBody(OperatorBody):
    lead: str
    cooperating: list[str] = Field(min_length=1)


class ResolveBody(OperatorBody):
    resolution: str = Field(min_length=1)


class ApproveBody(OperatorBody):
    complete_by: datetime | None = Field(default=None, description="default: the proposed one")


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: str = Field(min_length=1)
    level: RuleLevel
    area_id: str = Field(default=CITY, description="township or village id; `*` for the city")
    category_code: str
    department: str
    cooperating: list[str] = Field(default_factory=list)


@router.post("/cases/{case_id}/triage", tags=["center"], summary="Resolve a triage item")
async def triage(
    case_id: str, body: TriageBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.triage(
        case_id,
        category_code=body.category_code,
        department=body.department,
        cooperating=body.cooperating,
        grid_id=body.grid_id,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post(
    "/cases/{case_id}/redispatch", tags=["center"], summary="Hand a rejected order to another unit"
)
async def redispatch(
    case_id: str, body: RedispatchBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.redispatch(
        case_id,
        department=body.department,
        order_id=body.order_id,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post("/cases/{case_id}/joint-action", tags=["center"], summary="Start a joint action")
async def joint_action(
    case_id: str, body: JointActionBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.joint_action(
        case_id,
        lead=body.lead,
        cooperating=body.cooperating,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post(
    "/cases/{case_id}/escalate", tags=["village"], summary="The village escalates to the center"
)
async def escalate(
    case_id: str, body: OperatorBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.escalate(
        case_id,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post(
    "/cases/{case_id}/resolve-locally", tags=["village"], summary="Solved at village level"
)
async def resolve_locally(
    case_id: str, body: ResolveBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.resolve_locally(
        case_id,
        resolution=body.resolution,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post(
    "/orders/{order_id}/extension/approve",
    tags=["center"],
    summary="Approve a pending extension: the order's complete-by moves",
)
async def approve_extension(
    order_id: str, body: ApproveBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.decide_extension(
        order_id,
        approve=True,
        complete_by=body.complete_by,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.post(
    "/orders/{order_id}/extension/refuse",
    tags=["center"],
    summary="Refuse a pending extension: complete-by stays",
)
async def refuse_extension(
    order_id: str, body: OperatorBody, deps: Deps, request: Request, key: IdempotencyKey = None
) -> JSONResponse:
    result = await deps.service.decide_extension(
        order_id,
        approve=False,
        complete_by=None,
        note=body.note,
        operator=body.operator,
        cause=await cause_for(body.operator, request, key),
    )
    return respond(result)


@router.put("/routing-rules", tags=["routing"], summary="Add or replace a routing rule")
async def put_rule(body: RuleBody, deps: Deps) -> JSONResponse:
    invalid = _invalid_rule(body)
    if invalid:
        return problem(422, "invalid_rule", invalid)
    area_id = CITY if body.level == "city" else body.area_id
    rule = RoutingRule(
        body.level, area_id, body.category_code, body.department, tuple(body.cooperating)
    )
    await deps.rules.put(rule, body.operator, deps.clock.now())
    await deps.rule_book.reload()
    return JSONResponse({"rule_id": rule.rule_id}, status_code=200)


@router.delete("/routing-rules/{rule_id}", tags=["routing"], summary="Remove a routing rule")
async def delete_rule(rule_id: str, deps: Deps) -> JSONResponse:
    if not await deps.rules.delete(rule_id):
        return problem(404, "rule_not_found", f"no rule {rule_id}")
    await deps.rule_book.reload()
    return JSONResponse({"rule_id": rule_id, "deleted": True})


@router.post(
    "/departments/{code}/api-key",
    tags=["departments"],
    summary="Issue a new HTTP API key for a department (shown once; the old one stops working)",
)
async def issue_api_key(code: str, deps: Deps) -> JSONResponse:
    if code not in DEPARTMENTS_BY_CODE:
        return problem(404, "department_not_found", f"no department {code}")
    key = department_key(code, new_secret())
    await deps.keys.put(code, hash_key(key), deps.clock.now())
    return JSONResponse(jsonable_encoder({"department": code, "api_key": key}))


def _invalid_rule(body: RuleBody) -> str | None:
    if body.category_code not in CATEGORIES_BY_CODE:
        return f"unknown category {body.category_code}"
    unknown = [d for d in (body.department, *body.cooperating) if d not in DEPARTMENTS_BY_CODE]
    if unknown:
        return f"unknown department(s) {', '.join(unknown)}"
    registry = load_registry()
    if body.level == "township" and registry.township(body.area_id) is None:
        return f"unknown township {body.area_id}"
    if body.level == "village" and registry.village(body.area_id) is None:
        return f"unknown village {body.area_id}"
    return None
