"""Open311 GeoReport v2 endpoints under /open311/v2 (JSON): services, requests, tokens."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from gridloop_common.idempotency import REPLAYED_HEADER, IdempotencyKey
from gridloop_intake.api import Deps, accept, client_address
from gridloop_intake.channels import open311
from gridloop_intake.errors import open311_error, open311_errors
from gridloop_intake.submission import Problem, SubmissionRejected

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])

Jurisdiction = Annotated[
    str | None,
    Query(max_length=64, description="Accepted and ignored: this endpoint serves one city."),
]
Code = Annotated[str, Path(max_length=64, description="A service_code from services.json")]
# Ids and codes are ASCII words: a list of them stays a URL every HTTP server takes.
LIST_PATTERN = r"^[A-Za-z0-9_, -]*$"
RequestId = Annotated[str, Path(max_length=64, description="A service_request_id")]

_ERROR_ITEM = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "description": {"type": "string"},
        "field": {"type": "string"},
    },
    "required": ["code", "description"],
}
ERROR_LIST = {
    "description": "Open311 error list: `[{code, description, field?}]`",
    "content": {"application/json": {"schema": {"type": "array", "items": _ERROR_ITEM}}},
}
_TEXT = {"type": "string"}
# The form the spec shows; `attribute[code]` keys come from the service definition.
FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        "api_key": _TEXT,
                        "jurisdiction_id": _TEXT,
                        "service_code": _TEXT,
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "long": {"type": "number", "minimum": -180, "maximum": 180},
                        "address_string": {"type": "string", "maxLength": 500},
                        "address_id": {"type": "string", "description": "A grid id"},
                        "email": {"type": "string", "format": "email"},
                        "device_id": _TEXT,
                        "account_id": _TEXT,
                        "first_name": _TEXT,
                        "last_name": _TEXT,
                        "phone": _TEXT,
                        "description": {"type": "string", "maxLength": 4000},
                        "media_url": {"type": "string", "format": "uri"},
                        "attribute[severity]": {
                            "type": "string",
                            "enum": ["low", "medium", "high"],
                        },
                        "attribute[floor]": _TEXT,
                        "attribute[landmark]": _TEXT,
                    },
                    "additionalProperties": _TEXT,
                }
            }
        },
    }
}
FORM_TYPE = "application/x-www-form-urlencoded"


@router.get("/discovery.json", summary="Service discovery: where and what this endpoint is")
async def discovery(request: Request) -> JSONResponse:
    endpoint = str(request.base_url).rstrip("/") + PREFIX
    return JSONResponse(open311.discovery(endpoint))


@router.get("/services.json", summary="Every catalogue category as an Open311 service")
async def services(jurisdiction_id: Jurisdiction = None) -> JSONResponse:
    return JSONResponse(list(open311.SERVICES))


@router.get(
    "/services/{service_code}.json",
    summary="A service's definition: its attributes",
    responses={404: ERROR_LIST},
)
async def service_definition(
    service_code: Code, jurisdiction_id: Jurisdiction = None
) -> JSONResponse:
    definition = open311.service_definition(service_code)
    if definition is None:
        return open311_error(404, f"unknown service_code {service_code!r}", "service_code")
    return JSONResponse(definition)


@router.post(
    "/requests.json",
    summary="Create a service request (form-encoded, as the spec shows)",
    status_code=201,
    openapi_extra=FORM_BODY,
    responses={
        201: {
            "description": "`[{service_request_id, service_notice, account_id, reporter_token}]`"
        },
        403: ERROR_LIST,
        413: {"description": "Body over the size limit"},
        429: {"description": "Over the api_key's rate limit; see Retry-After"},
        415: ERROR_LIST,
        422: ERROR_LIST,
        503: {"description": "Database unavailable; see Retry-After"},
    },
)
async def create_request(
    request: Request, deps: Deps, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return open311_error(415, f"send the request as {FORM_TYPE}")
    try:
        pairs = parse_qsl(
            (await request.body()).decode(),
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=200,
        )
    except UnicodeDecodeError:
        raise SubmissionRejected(Problem("(body)", "not UTF-8")) from None
    except ValueError:
        raise SubmissionRejected(Problem("(body)", "more than 200 fields")) from None
    keys = [value for name, value in pairs if name == "api_key"]
    if len(keys) != 1 or not deps.is_open311_key(keys[0]):
        return open311_error(403, "missing or invalid api_key", "api_key")
    wait = deps.rate_limits.wait_seconds(address=client_address(request), key=keys[0])
    if wait:
        return open311_errors(
            429,
            [Problem("api_key", f"too many requests with this api_key; retry in {wait} s")],
            headers={"Retry-After": str(wait)},
        )
    outcome = await accept(
        request, deps, idempotency_key, lambda r, now: open311.to_submission(pairs, r, now)
    )
    notice = open311.service_notice(outcome.category_code)
    if outcome.linked_to:
        notice = open311.linked_notice(outcome.linked_to)
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else {}
    body = [
        {
            "service_request_id": outcome.report_id,
            "service_notice": notice,
            "account_id": None,
            # An extension field (GeoReport v2 lets a server add them): only the submitter gets
            # it, and it is what their verdict on the case needs.
            "reporter_token": deps.reporter_tokens.for_report(outcome.report_id),
        }
    ]
    return JSONResponse(body, status_code=201, headers=headers)


@router.get(
    "/requests.json",
    summary="Service requests: by id list, or by service, date range and status",
    responses={422: ERROR_LIST},
)
async def list_requests(
    deps: Deps,
    *,
    service_request_id: Annotated[
        str | None,
        Query(
            max_length=20_000,
            pattern=LIST_PATTERN,
            description="Comma-separated, up to 1,000 ids; overrides every other parameter",
        ),
    ] = None,
    service_code: Annotated[
        str | None, Query(max_length=7_000, pattern=LIST_PATTERN, description="Comma-separated")
    ] = None,
    start_date: Annotated[str | None, Query(max_length=40, description="w3 datetime")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="w3 datetime")] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> JSONResponse:
    query = open311.request_query(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        now=deps.clock.now(),
    )
    requests = await deps.reports.service_requests(query, open311.MAX_REQUESTS)
    return JSONResponse([open311.render_request(r, deps.registry) for r in requests])


@router.get(
    "/requests/{service_request_id}.json",
    summary="One service request (an array of one, as the spec shows)",
    responses={404: ERROR_LIST},
)
async def get_request(
    service_request_id: RequestId, deps: Deps, jurisdiction_id: Jurisdiction = None
) -> JSONResponse:
    found = await deps.reports.service_request(service_request_id)
    if found is None:
        return open311_error(
            404, f"no service request {service_request_id!r}", "service_request_id"
        )
    return JSONResponse([open311.render_request(found, deps.registry)])


@router.get(
    "/tokens/{token}.json",
    summary="The request a token stands for; requests are created at once, the token is its id",
    responses={404: ERROR_LIST},
)
async def get_token(
    token: RequestId, deps: Deps, jurisdiction_id: Jurisdiction = None
) -> JSONResponse:
    if not await deps.reports.exists(token):
        return open311_error(404, f"no token {token!r}", "token")
    return JSONResponse([{"service_request_id": token, "token": token}])
