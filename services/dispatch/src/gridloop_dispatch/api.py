"""dispatch's HTTP API for everyone but the operator: cases, departments, replies, feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gridloop_common.api_keys import keys_match
from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.contracts import (
    REJECT_REASONS,
    REPLIES_EXCHANGE,
    AcceptOrder,
    CompleteOrder,
    OrderReply,
    RejectOrder,
    RejectReason,
    ReportProgress,
    RequestExtension,
)
from gridloop_common.envelope import derived_id, new_event_id
from gridloop_common.http import MAX_OFFSET, app_deps, problem
from gridloop_common.http_errors import ApiProblem
from gridloop_common.idempotency import IdempotencyKey, request_fingerprint
from gridloop_common.messaging import department_queue
from gridloop_common.reporter_tokens import TOKEN_HEADER
from gridloop_common.staff import authenticated_staff
from gridloop_dispatch.bootstrap import DispatchDeps
from gridloop_dispatch.lifecycle import Refusal, RefusalKind
from gridloop_dispatch.model import CASE_STATUSES, Case, case_document
from gridloop_dispatch.repository import CaseQuery
from gridloop_dispatch.service import Cause, Result

Deps = Annotated[DispatchDeps, Depends(app_deps)]
ApiKey = Annotated[
    str | None,
    Header(
        alias="X-Api-Key",
        description="A department's key `<code>.<secret>`, or the operator key",
    ),
]
ReporterToken = Annotated[
    str | None,
    Header(
        alias=TOKEN_HEADER,
        max_length=64,
        description="The reporter's token: in intake's 202 answer and in the completion notice",
    ),
]


async def authenticated_department(deps: Deps, key: ApiKey = None) -> str:
    if not key:
        raise ApiProblem(401, "missing_api_key", "send your department's key in X-Api-Key")
    code = await deps.keyring.department_of(key)
    if code is None:
        raise ApiProblem(401, "invalid_api_key", "the key is not a valid department key")
    return code


Department = Annotated[str, Depends(authenticated_department)]


@dataclass(frozen=True)
class Reader:
    """Who reads cases: the operator every case, a department those it holds an order of."""

    department: str | None  # None: the operator

    def may_read(self, case: dict[str, Any]) -> bool:
        if self.department is None:
            return True
        return any(o.get("department") == self.department for o in case.get("orders", []))


async def authenticated_reader(deps: Deps, key: ApiKey = None) -> Reader:
    # Cases carry residents' descriptions and locations: no anonymous reads.
    if not key:
        raise ApiProblem(
            401, "missing_api_key", "send the operator key or your department's key in X-Api-Key"
        )
    # The operator and the read-only viewer read every case (case reads are all GETs).
    for configured in (deps.settings.operator_api_key, deps.settings.viewer_api_key):
        if configured.get_secret_value() and keys_match(key, configured.get_secret_value()):
            return Reader(None)
    code = await deps.keyring.department_of(key)
    if code is None:
        raise ApiProblem(
            401,
            "invalid_api_key",
            "the key is neither the operator's, the viewer's nor a department's",
        )
    return Reader(code)


CaseReader = Annotated[Reader, Depends(authenticated_reader)]
Staff = Annotated[None, Depends(authenticated_staff)]


async def cause_for(actor: str, request: Request, idempotency_key: str | None) -> Cause:
    """The request's id: named by the caller's key on this endpoint (a retry is the same
    cause), else new; with the request's fingerprint, so a reused key is told apart."""
    if idempotency_key:
        path = request.url.path
        return Cause(
            derived_id("http", actor, path, idempotency_key),
            fingerprint=request_fingerprint(path, await request.body()),
        )
    return Cause(new_event_id())


def case_body(case: Case) -> dict[str, Any]:
    document = case_document(case)
    document["case_id"] = document.pop("_id")
    return document


# Each kind of refusal as HTTP answers it (the state machine knows nothing of HTTP).
HTTP_STATUS: dict[RefusalKind, int] = {
    "not_found": 404,
    "invalid": 422,
    "conflict": 409,
    "forbidden": 403,
}


def respond(result: Result) -> JSONResponse:
    if isinstance(result, Refusal):
        status = HTTP_STATUS[result.kind]
        return problem(status, result.code, result.detail, **jsonable_encoder(result.extra))
    body = {**case_body(result.case), "repeated": result.repeated}
    return JSONResponse(jsonable_encoder(body))


router = APIRouter(prefix="/v1")


# --- cases ----------------------------------------------------------------------------------


_READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or not a known one"},
    403: {"description": "a department asking for another unit's cases"},
}


@router.get(
    "/cases/{case_id}",
    tags=["cases"],
    summary="A case with its orders and timeline: the operator, or a department with an order",
    responses={**_READ_RESPONSES, 404: {"description": "no such case"}},
)
async def get_case(case_id: str, deps: Deps, reader: CaseReader) -> Any:
    document = await deps.cases.view(case_id)
    if document is None:
        return problem(404, "case_not_found", f"no case {case_id}")
    if not reader.may_read(document):
        return problem(403, "not_your_case", f"{reader.department} holds no order of {case_id}")
    return JSONResponse(jsonable_encoder(document))


@router.get(
    "/cases",
    tags=["cases"],
    summary="Cases, newest first, filtered; a department sees those it holds orders of",
    responses={**_READ_RESPONSES, 422: {"description": "an unknown status"}},
)
async def list_cases(
    deps: Deps,
    reader: CaseReader,
    *,
    status: Annotated[str | None, Query(description=", ".join(CASE_STATUSES))] = None,
    department: Annotated[str | None, Query(description="a unit with an order")] = None,
    township: str | None = None,
    grid: str | None = None,
    flagged: bool | None = None,
    overdue: Annotated[
        bool | None, Query(description="an open order is past its accept-by or complete-by")
    ] = None,
    extension_pending: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    if status is not None and status not in CASE_STATUSES:
        return problem(
            422, "unknown_status", f"not a case status: {status}", statuses=list(CASE_STATUSES)
        )
    if reader.department is not None:
        if department not in (None, reader.department):
            return problem(
                403, "not_your_department", f"{reader.department} may list its own cases only"
            )
        department = reader.department
    query = CaseQuery(
        status=status,
        department=department,
        township=township,
        grid=grid,
        flagged=flagged,
        overdue=overdue,
        extension_pending=extension_pending,
        limit=limit,
        offset=offset,
    )
    found = await deps.cases.search(query, deps.clock.now())
    return JSONResponse(jsonable_encoder({"cases": found, "limit": limit, "offset": offset}))


@router.get(
    "/triage",
    tags=["cases"],
    summary="The center's triage list (operator key)",
    responses={401: {"description": "not the operator key"}},
)
async def triage_list(
    deps: Deps, _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Any:
    query = CaseQuery(status="awaiting_triage", limit=limit)
    found = await deps.cases.search(query, deps.clock.now())
    return JSONResponse(jsonable_encoder({"cases": found}))


# --- departments ----------------------------------------------------------------------------


@router.get("/departments", tags=["departments"], summary="Departments, their queues and accounts")
async def list_departments(deps: Deps) -> list[dict[str, Any]]:
    with_keys = await deps.keys.codes()
    prefix = deps.settings.department_user_prefix
    return [
        {
            "code": d.code,
            "name_zh": d.name_zh,
            "name_en": d.name_en,
            "kind": d.kind,
            "queue": department_queue(d.code),
            "amqp_user": f"{prefix}{d.code}",
            "reply_exchange": REPLIES_EXCHANGE,
            "reply_routing_keys": f"{d.code}.<accept|reject|progress|complete|request-extension>",
            "api_key_provisioned": d.code in with_keys,
        }
        for d in DEPARTMENTS
    ]


@router.get("/reason-codes", tags=["departments"], summary="Reason codes for a rejection")
async def reason_codes() -> dict[str, str]:
    return REJECT_REASONS


@router.get("/routing-rules", tags=["routing"], summary="Routing rules over the catalogue")
async def list_rules(deps: Deps, category: str | None = None) -> Any:
    return JSONResponse(jsonable_encoder({"rules": await deps.rules.all(category)}))


# --- department replies over HTTP ------------------------------------------------------------


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handler: str | None = Field(default=None, description="the worker taking the order")
    note: str | None = None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: RejectReason
    reason_text: str | None = None
    duplicate_of: str | None = None
    handler: str | None = None


class ProgressBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = None
    photo_urls: tuple[str, ...] = ()
    handler: str | None = None


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: str = Field(min_length=1)
    photo_urls: tuple[str, ...] = ()
    handler: str | None = None
    note: str | None = None


class ExtensionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1)
    proposed_complete_by: datetime
    handler: str | None = None


_REPLY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or not a valid department key"},
    403: {"description": "another department's order (recorded as `case.reply_refused`)"},
    404: {"description": "no such order"},
    409: {"description": "illegal transition: `code`, `detail`, `current_status`, `allowed_from`"},
    422: {"description": "invalid body"},
}


async def _reply(
    deps: Deps,
    *,
    request: Request,
    department: str,
    idempotency_key: str | None,
    reply_type: type[OrderReply],
    order_id: str,
    body: BaseModel,
) -> JSONResponse:
    try:
        reply = reply_type.model_validate(
            {**body.model_dump(), "order_id": order_id, "department": department}
        )
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in error.errors()
        ]
        return problem(422, "invalid_reply", "the reply is not valid", errors=problems)
    cause = await cause_for(department, request, idempotency_key)
    return respond(await deps.service.reply(reply, department, cause, via="http"))


@router.post("/orders/{order_id}/accept", tags=["orders"], responses=_REPLY_RESPONSES)
async def accept(
    order_id: str,
    *,
    body: AcceptBody,
    deps: Deps,
    request: Request,
    department: Department,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _reply(
        deps,
        request=request,
        department=department,
        idempotency_key=idempotency_key,
        reply_type=AcceptOrder,
        order_id=order_id,
        body=body,
    )


@router.post("/orders/{order_id}/reject", tags=["orders"], responses=_REPLY_RESPONSES)
async def reject(
    order_id: str,
    *,
    body: RejectBody,
    deps: Deps,
    request: Request,
    department: Department,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _reply(
        deps,
        request=request,
        department=department,
        idempotency_key=idempotency_key,
        reply_type=RejectOrder,
        order_id=order_id,
        body=body,
    )


@router.post("/orders/{order_id}/progress", tags=["orders"], responses=_REPLY_RESPONSES)
async def progress(
    order_id: str,
    *,
    body: ProgressBody,
    deps: Deps,
    request: Request,
    department: Department,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _reply(
        deps,
        request=request,
        department=department,
        idempotency_key=idempotency_key,
        reply_type=ReportProgress,
        order_id=order_id,
        body=body,
    )


@router.post("/orders/{order_id}/complete", tags=["orders"], responses=_REPLY_RESPONSES)
async def complete(
    order_id: str,
    *,
    body: CompleteBody,
    deps: Deps,
    request: Request,
    department: Department,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _reply(
        deps,
        request=request,
        department=department,
        idempotency_key=idempotency_key,
        reply_type=CompleteOrder,
        order_id=order_id,
        body=body,
    )


@router.post("/orders/{order_id}/request-extension", tags=["orders"], responses=_REPLY_RESPONSES)
async def request_extension(
    order_id: str,
    *,
    body: ExtensionBody,
    deps: Deps,
    request: Request,
    department: Department,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _reply(
        deps,
        request=request,
        department=department,
        idempotency_key=idempotency_key,
        reply_type=RequestExtension,
        order_id=order_id,
        body=body,
    )


# --- the reporter ---------------------------------------------------------------------------


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    satisfied: bool
    comment: str | None = Field(default=None, max_length=2000)


async def present_reporter_token(reporter_token: ReporterToken = None) -> str:
    """Judged before the body: a caller without a token learns nothing from its validation."""
    if not reporter_token:
        raise ApiProblem(
            401,
            "missing_reporter_token",
            f"send the token the reporter was given (the 202 answer, the notice) in {TOKEN_HEADER}",
        )
    return reporter_token


PresentReporterToken = Annotated[str, Depends(present_reporter_token)]


@router.post(
    "/cases/{case_id}/feedback",
    tags=["cases"],
    summary="The reporter's verdict on a completed case: closes it or reopens it",
    responses={
        401: {"description": "no reporter token"},
        403: {"description": "not this case's reporter token"},
        404: {"description": "no such case"},
        409: {"description": "not completed"},
    },
)
async def feedback(
    case_id: str,
    body: FeedbackBody,
    deps: Deps,
    request: Request,
    reporter_token: PresentReporterToken,
    *,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    cause = await cause_for("reporter", request, idempotency_key)
    result = await deps.service.feedback(
        case_id,
        reporter_token=reporter_token,
        satisfied=body.satisfied,
        comment=body.comment,
        cause=cause,
    )
    return respond(result)
