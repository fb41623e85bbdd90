"""Work orders, the case-dispatched event, and the case facts every case event carries."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import CaseDispatched, GeoPoint, WorkOrder
from gridloop_common.contracts.cases import CaseFacts
from gridloop_dispatch.lifecycle.core import Act
from gridloop_dispatch.model import Case, Order


def _facts(case: Case) -> dict[str, Any]:
    """What every case event says about the case (the contract's CaseFacts)."""
    return {name: getattr(case, name) for name in CaseFacts.model_fields}


def case_fields(case: Case, order: Order) -> dict[str, Any]:
    return {**_facts(case), "order_id": order.order_id, "department": order.department}


def area_fields(case: Case, act: Act) -> dict[str, Any]:
    return {**_facts(case), "operator": act.who}


def _team(case: Case) -> tuple[str | None, tuple[str, ...]]:
    current = case.current_orders()
    lead = next((o.department for o in current if o.role == "lead"), None)
    cooperating = tuple(o.department for o in current if o.role == "cooperating")
    return lead, cooperating


def work_order(case: Case, order: Order) -> WorkOrder:
    lead, cooperating = _team(case)
    return WorkOrder(
        order_id=order.order_id,
        case_id=case.case_id,
        department=order.department,
        category_code=case.category_code,
        description=case.description,
        grid_id=case.grid_id,
        dispatched_at=order.dispatched_at,
        accept_by=order.accept_by,
        complete_by=order.complete_by,
        township_id=case.township_id,
        village_id=case.village_id,
        location=GeoPoint.model_validate(case.location) if case.location else None,
        reference=case.report_id,
        photo_urls=case.photo_urls,
        grid_path=case.grid_path,
        role=order.role,
        lead_department=lead,
        cooperating_departments=cooperating,
        dispatch_reason=order.dispatch_reason,
        previous_order_id=order.previous_order_id,
        comment=order.comment,
    )


def dispatched_event(case: Case, order: Order) -> CaseDispatched:
    lead, _ = _team(case)
    return CaseDispatched(
        **case_fields(case, order),
        dispatched_at=order.dispatched_at,
        accept_by=order.accept_by,
        complete_by=order.complete_by,
        role=order.role,
        lead_department=lead,
        dispatch_reason=order.dispatch_reason,
        previous_order_id=order.previous_order_id,
    )
