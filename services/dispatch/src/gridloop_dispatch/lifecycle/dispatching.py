"""New orders with their clocks and messages, and opening a case from a report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from gridloop_common.catalogue import CATEGORIES_BY_CODE
from gridloop_common.contracts import Message, OrderRole, ReportReceived
from gridloop_common.envelope import derived_id
from gridloop_dispatch.areas import Area
from gridloop_dispatch.lifecycle.core import Act, Change, Policy, derive_status, entry
from gridloop_dispatch.lifecycle.messages import dispatched_event, work_order
from gridloop_dispatch.model import Case, Order, case_id_for, order_id_for
from gridloop_dispatch.routing import Route, Triage


def _complete_within(case: Case, policy: Policy) -> timedelta:
    category = CATEGORIES_BY_CODE.get(case.category_code)
    hours = category.complete_within_hours if category else policy.default_complete_within_hours
    return timedelta(hours=hours * policy.complete_within_scale)


def new_order(
    case: Case,
    department: str,
    *,
    slot: str,
    role: OrderRole,
    reason: str,
    policy: Policy,
    act: Act,
    previous: str | None = None,
    comment: str | None = None,
    fallback: bool = False,
) -> Order:
    return Order(
        order_id=order_id_for(case.case_id, department, len(case.orders) + 1),
        department=department,
        slot=slot,
        role=role,
        round=case.round,
        status="dispatched",
        dispatched_at=act.at,
        accept_by=act.at + policy.accept_window,
        complete_by=act.at + _complete_within(case, policy),
        dispatch_reason=reason,
        fallback=fallback,
        previous_order_id=previous,
        comment=comment,
    )


def issue(case: Case, orders: Sequence[Order], why: str | None, act: Act) -> Change:
    """Add new orders to the case with their work orders, dispatch events and timeline lines."""
    case = replace(case, orders=case.orders + tuple(orders))
    case = replace(case, status=derive_status(case), triage_reasons=())
    messages: list[tuple[str, Message]] = []
    history = []
    for order in orders:
        messages.append((derived_id("work-order", order.order_id), work_order(case, order)))
        messages.append(
            (derived_id("case-dispatched", order.order_id), dispatched_event(case, order))
        )
        history.append(
            entry(
                act,
                "dispatched",
                why,
                order_id=order.order_id,
                department=order.department,
                role=order.role,
                reason=order.dispatch_reason,
            )
        )
    return Change(case, tuple(history), tuple(messages))


def dispatch_route(
    case: Case,
    route: Route,
    *,
    reason: str,
    policy: Policy,
    act: Act,
    why: str | None,
    comment: str | None = None,
) -> Change:
    orders: list[Order] = []
    shares: list[tuple[str, str, OrderRole]] = [
        (route.lead, "lead" if route.joint else "sole", "lead" if route.joint else "sole")
    ]
    shares += [(d, f"coop-{n}", "cooperating") for n, d in enumerate(route.cooperating, 1)]
    for department, slot, role in shares:
        staged = replace(case, orders=case.orders + tuple(orders))
        orders.append(
            new_order(
                staged,
                department,
                slot=slot,
                role=role,
                reason=reason,
                policy=policy,
                act=act,
                comment=comment,
            )
        )
    return issue(case, orders, why, act)


def route_or_triage(
    case: Case, decision: Route | Triage, reason: str, policy: Policy, act: Act
) -> Change:
    if isinstance(decision, Triage):
        waiting = replace(case, status="awaiting_triage", triage_reasons=decision.reasons)
        line = entry(act, "awaiting_triage", ", ".join(decision.reasons))
        return Change(waiting, (line,))
    units = ", ".join((decision.lead, *decision.cooperating))
    why = f"routed by {decision.source} to {units}"
    return dispatch_route(case, decision, reason=reason, policy=policy, act=act, why=why)


def merge(first: Change, second: Change) -> Change:
    return Change(second.case, first.history + second.history, first.messages + second.messages)


# --- opening --------------------------------------------------------------------------------


def open_case(
    report: ReportReceived, area: Area, decision: Route | Triage, policy: Policy, act: Act
) -> Change:
    """A new case from a report: held for the village, put on the triage list, or dispatched."""
    case = Case(
        case_id=case_id_for(report.report_id),
        category_code=report.category_code,
        grid_id=report.grid_id,
        description=report.description,
        opened_at=act.at,
        status="reported",
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        channel=report.channel,
        township_id=area.township_id,
        village_id=area.village_id,
        grid_path=area.grid_path,
        fallback_owner=area.fallback_owner,
        location=report.location.model_dump() if report.location else None,
        photo_urls=report.photo_urls,
        reported_at=report.reported_at,
    )
    local = report.category_code in policy.local_first_categories
    if local and isinstance(decision, Route):
        why = "local-first category: the village resolves it or escalates it"
        return Change(case, (entry(act, "reported", why),))
    return route_or_triage(case, decision, "routed", policy, act)
