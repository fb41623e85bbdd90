"""sla-monitor's HTTP API: the clocks of one order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gridloop_common.contracts.sla import ClockName
from gridloop_common.http import app_deps, problem
from gridloop_common.mongo import Document
from gridloop_sla_monitor.bootstrap import SlaMonitorDeps

Deps = Annotated[SlaMonitorDeps, Depends(app_deps)]

router = APIRouter(prefix="/v1", tags=["timers"])


class ClockView(BaseModel):
    clock: ClockName
    state: str
    started_at: datetime | None = None
    due_at: datetime | None = None
    fired_at: datetime | None = None
    late_seconds: float | None = None
    met_at: datetime | None = None
    accepted_at: datetime | None = None
    accepted_late_at: datetime | None = None


class OrderClocks(BaseModel):
    order_id: str
    case_id: str
    department: str
    clocks: list[ClockView]


class Problem(BaseModel):
    code: str
    detail: str


def clock_view(document: Document) -> ClockView:
    return ClockView.model_validate({name: document.get(name) for name in ClockView.model_fields})


@router.get(
    "/timers/{order_id}",
    summary="The SLA clocks known for an order",
    response_model=OrderClocks,
    responses={404: {"model": Problem, "description": "No clock known for this order"}},
)
async def get_timers(order_id: str, deps: Deps) -> Any:
    documents = await deps.timers.for_order(order_id)
    if not documents:
        return problem(404, "order_not_found", f"no SLA clock known for order {order_id}")
    first = documents[0]
    return OrderClocks(
        order_id=order_id,
        case_id=first["case_id"],
        department=first["department"],
        clocks=[clock_view(document) for document in documents],
    )
