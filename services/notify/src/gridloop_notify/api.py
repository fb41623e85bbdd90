"""notify's HTTP API: what became of each notice."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gridloop_common.http import app_deps, problem
from gridloop_common.mongo import Document
from gridloop_notify.bootstrap import NotifyDeps

Deps = Annotated[NotifyDeps, Depends(app_deps)]

router = APIRouter(prefix="/v1", tags=["deliveries"])


class DeliveryView(BaseModel):
    notice_id: str
    kind: str
    case_id: str
    event_id: str
    channel: str
    status: str
    attempts: int
    last_error: str | None = None
    created_at: datetime
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    notice: dict[str, Any]


class CaseDeliveries(BaseModel):
    case_id: str
    deliveries: list[DeliveryView]


def delivery_view(document: Document) -> DeliveryView:
    return DeliveryView.model_validate({**document, "notice_id": document["_id"]})


@router.get(
    "/deliveries/{notice_id}",
    response_model=DeliveryView,
    summary="One notice's delivery: status, attempts, last error",
)
async def get_delivery(notice_id: str, deps: Deps) -> Any:
    document = await deps.deliveries.get(notice_id)
    if document is None:
        return problem(404, "delivery_not_found", f"no delivery {notice_id}")
    return delivery_view(document)


@router.get(
    "/cases/{case_id}/deliveries",
    response_model=CaseDeliveries,
    summary="Every notice sent about a case, oldest first (404 when there is none)",
)
async def list_case_deliveries(case_id: str, deps: Deps) -> Any:
    documents = await deps.deliveries.for_case(case_id)
    if not documents:
        return problem(404, "case_has_no_deliveries", f"no deliveries for case {case_id}")
    return CaseDeliveries(case_id=case_id, deliveries=[delivery_view(d) for d in documents])
