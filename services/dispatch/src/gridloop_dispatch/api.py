"""dispatch's HTTP API: cases with their history, and the department directory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.http import app_deps, problem
from gridloop_common.messaging import department_queue
from gridloop_dispatch.bootstrap import DispatchDeps

Deps = Annotated[DispatchDeps, Depends(app_deps)]

router = APIRouter(prefix="/v1")


@router.get("/cases/{case_id}", tags=["cases"], summary="A case with its orders and history")
async def get_case(case_id: str, deps: Deps) -> Any:
    document = await deps.cases.get(case_id)
    if document is None:
        return problem(404, "case_not_found", f"no case {case_id}")
    document["case_id"] = document.pop("_id")
    for internal in ("outbox_pending", "outbox_at", "outbox_lease"):
        document.pop(internal, None)
    return JSONResponse(jsonable_encoder(document))


@router.get("/departments", tags=["departments"], summary="Departments and their order queues")
async def list_departments() -> list[dict[str, str]]:
    return [
        {
            "code": d.code,
            "name_zh": d.name_zh,
            "name_en": d.name_en,
            "queue": department_queue(d.code),
        }
        for d in DEPARTMENTS
    ]
