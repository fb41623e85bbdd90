"""The center's erasure of a reporter's contact data: `POST /v1/reporters/erasure`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from gridloop_common.api_keys import API_KEY_HEADER, require_staff
from gridloop_common.http import app_deps, problem
from gridloop_intake.bootstrap import IntakeDeps
from gridloop_intake.erasure import ErasureRequest, NothingToErase

Deps = Annotated[IntakeDeps, Depends(app_deps)]
OperatorKey = Annotated[
    str | None, Header(alias=API_KEY_HEADER, max_length=200, description="The operator's key")
]


async def operator_only(deps: Deps, key: OperatorKey = None) -> None:
    """Judged before the body: a stranger learns nothing from validation errors. The viewer's
    key is refused as acting (403 `read_only_key`)."""
    settings = deps.settings
    require_staff(
        key,
        "POST",
        operator=settings.operator_api_key.get_secret_value(),
        viewer=settings.viewer_api_key.get_secret_value(),
    )


class ErasureBody(BaseModel):
    """Exactly one of the three: what the resident gives to be found by."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(default=None, min_length=3, max_length=40)
    email: str | None = Field(default=None, min_length=3, max_length=254)
    reporter_id: str | None = Field(default=None, min_length=1, max_length=100)


router = APIRouter(prefix="/v1")


@router.post(
    "/reporters/erasure",
    tags=["reporters"],
    summary="Erase a reporter's contact data (the resident's request); reports and cases stay",
    responses={
        401: {"description": "no key, or not the operator's"},
        403: {"description": "the viewer's key: it only reads"},
        422: {"description": "not exactly one of phone, email, reporter_id"},
        503: {"description": "OPERATOR_API_KEY is not set, or the database is away"},
    },
    dependencies=[Depends(operator_only)],
)
async def erase_reporter(body: ErasureBody, deps: Deps) -> Any:
    given = [name for name, value in body.model_dump().items() if value]
    if len(given) != 1:
        return problem(
            422,
            "one_identifier",
            f"give exactly one of phone, email, reporter_id (got {given or 'none'})",
        )
    try:
        erasure = await deps.eraser.erase(ErasureRequest(**body.model_dump()))
    except NothingToErase as error:
        return problem(422, "one_identifier", str(error))
    # The pseudonym only: the phone or e-mail that found it is never logged or echoed.
    return {
        "erasure_id": erasure.erasure_id,
        "reporter_id": erasure.reporter_id,
        "contact_erased": erasure.contact_erased,
    }
