"""Pure case rules: opening a case from a report, and what an order's acceptance changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gridloop_common.contracts import (
    AcceptOrder,
    CaseAccepted,
    CaseDispatched,
    Message,
    ReportReceived,
    WorkOrder,
)
from gridloop_common.envelope import derived_id
from gridloop_dispatch.routing import route

SOURCE = "gridloop/dispatch"


def case_id_for(report_id: str) -> str:
    # Derived, not random: a redelivered report.received maps to the same case.
    return "C-" + derived_id("case", report_id)[:18]


def order_id_for(case_id: str, department: str, sequence: int) -> str:
    return "O-" + derived_id("order", case_id, department, str(sequence))[:18]


@dataclass(frozen=True)
class OpenedCase:
    document: dict[str, Any]
    messages: list[tuple[str, Message]]  # (message id, message) pairs for the outbox


def open_case(report: ReportReceived, now: datetime, accept_window: timedelta) -> OpenedCase:
    case_id = case_id_for(report.report_id)
    base: dict[str, Any] = {
        "_id": case_id,
        "report_id": report.report_id,
        "reporter_id": report.reporter_id,
        "channel": report.channel,
        "category_code": report.category_code,
        "grid_id": report.grid_id,
        "township_id": report.township_id,
        "village_id": report.village_id,
        "description": report.description,
        "reported_at": report.reported_at,
        "opened_at": now,
    }
    target = route(report.category_code)
    if target is None:
        history = [_entry(now, "awaiting_triage", "dispatch", "no route for the category")]
        return OpenedCase(
            {**base, "status": "awaiting_triage", "orders": [], "history": history}, []
        )

    order_id = order_id_for(case_id, target.department, 1)
    accept_by = now + accept_window
    complete_by = now + timedelta(hours=target.category.complete_within_hours)
    order = WorkOrder(
        order_id=order_id,
        case_id=case_id,
        department=target.department,
        category_code=report.category_code,
        description=report.description,
        grid_id=report.grid_id,
        township_id=report.township_id,
        village_id=report.village_id,
        location=report.location,
        dispatched_at=now,
        accept_by=accept_by,
        complete_by=complete_by,
        reference=report.report_id,
        photo_urls=report.photo_urls,
    )
    dispatched = CaseDispatched(
        case_id=case_id,
        order_id=order_id,
        department=target.department,
        category_code=report.category_code,
        grid_id=report.grid_id,
        township_id=report.township_id,
        village_id=report.village_id,
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        dispatched_at=now,
        accept_by=accept_by,
        complete_by=complete_by,
    )
    order_entry = {
        "order_id": order_id,
        "department": target.department,
        "status": "dispatched",
        "dispatched_at": now,
        "accept_by": accept_by,
        "complete_by": complete_by,
    }
    history = [_entry(now, "dispatched", "dispatch", f"routed by category to {target.department}")]
    return OpenedCase(
        {**base, "status": "dispatched", "orders": [order_entry], "history": history},
        [
            (derived_id("work-order", order_id), order),
            (derived_id("case-dispatched", order_id), dispatched),
        ],
    )


def accepted_event(
    case: dict[str, Any], order: dict[str, Any], reply: AcceptOrder, now: datetime
) -> CaseAccepted:
    return CaseAccepted(
        case_id=case["_id"],
        order_id=order["order_id"],
        department=order["department"],
        category_code=case["category_code"],
        grid_id=case["grid_id"],
        township_id=case.get("township_id"),
        village_id=case.get("village_id"),
        report_id=case.get("report_id"),
        reporter_id=case.get("reporter_id"),
        accepted_at=reply.accepted_at or now,
        handler=reply.handler,
    )


def history_entry(at: datetime, what: str, who: str, why: str | None = None) -> dict[str, Any]:
    return _entry(at, what, who, why)


def _entry(at: datetime, what: str, who: str, why: str | None) -> dict[str, Any]:
    return {"at": at, "what": what, "who": who, "why": why}
