"""intake's HTTP API: the native report endpoint."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from gridloop_common.http import app_deps, problem
from gridloop_common.messaging import envelope
from gridloop_intake.bootstrap import IntakeDeps
from gridloop_intake.reports import NewReport, report_document, report_event

Deps = Annotated[IntakeDeps, Depends(app_deps)]

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/reports", status_code=202, summary="Report a problem")
async def create_report(submission: NewReport, deps: Deps) -> dict[str, str]:
    now = deps.clock.now()
    report_id = f"R-{uuid.uuid4().hex[:16]}"
    event = report_event(report_id, submission, now)
    outgoing = envelope(event, source="gridloop/intake", time=now, correlation_id=report_id)
    # Durable before we answer: the relay publishes from the stored outbox, now or after a crash.
    await deps.reports.add(report_document(event), [outgoing], now)
    deps.relay.notify(deps.reports.reports, report_id)
    return {"report_id": report_id, "status": "received"}


@router.get("/reports/{report_id}", summary="A report and what became of it")
async def get_report(report_id: str, deps: Deps) -> Any:
    document = await deps.reports.get(report_id)
    if document is None:
        return problem(404, "report_not_found", f"no report {report_id}")
    document["report_id"] = document.pop("_id")
    document.pop("applied_events", None)
    document.pop("outbox_pending", None)
    return JSONResponse(jsonable_encoder(document))
