"""The center's operations on a case, and the reporter's feedback that closes or reopens it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gridloop_common.catalogue import CATEGORIES_BY_CODE, DEPARTMENTS_BY_CODE
from gridloop_common.contracts import (
    CaseClosed,
    CaseEscalated,
    CaseExtended,
    CaseReopened,
    CaseResolvedLocally,
)
from gridloop_common.envelope import derived_id
from gridloop_dispatch.areas import Area
from gridloop_dispatch.lifecycle.core import (
    CASE_MOVES,
    Act,
    Change,
    Outcome,
    Policy,
    Refusal,
    entry,
    illegal,
    rule_act,
)
from gridloop_dispatch.lifecycle.dispatching import (
    dispatch_route,
    issue,
    merge,
    new_order,
    route_or_triage,
)
from gridloop_dispatch.lifecycle.messages import area_fields, case_fields
from gridloop_dispatch.lifecycle.replies import moved
from gridloop_dispatch.model import Case
from gridloop_dispatch.routing import Route, RoutingRule, Triage, route_category


def _guard(case: Case, action: str) -> Refusal | None:
    allowed = CASE_MOVES[action]
    if case.status not in allowed:
        return illegal(action, case.status, list(allowed), case_id=case.case_id)
    return None


def _unknown_departments(*codes: str) -> Refusal | None:
    unknown = [c for c in codes if c not in DEPARTMENTS_BY_CODE]
    if unknown:
        return Refusal(
            "invalid", "unknown_department", f"not in the catalogue: {', '.join(unknown)}"
        )
    return None


def triage(
    case: Case,
    *,
    category_code: str | None,
    department: str | None,
    cooperating: Sequence[str],
    area: Area | None,
    rules: Sequence[RoutingRule],
    note: str | None,
    policy: Policy,
    act: Act,
) -> Outcome:
    """The center resolves a triage item by choosing a category and/or a unit (or a team)."""
    refused = _guard(case, "triage")
    if refused:
        return refused
    if not category_code and not department:
        return Refusal(
            "invalid", "choose_category_or_department", "give a category, a department, or both"
        )
    if category_code and category_code not in CATEGORIES_BY_CODE:
        return Refusal("invalid", "unknown_category", f"not in the catalogue: {category_code}")
    refused = _unknown_departments(*([department] if department else []), *cooperating)
    if refused:
        return refused
    if cooperating and not department:
        return Refusal("invalid", "lead_required", "a joint action needs a lead department")
    fixed = replace(case, category_code=category_code or case.category_code)
    if area is not None:
        fixed = replace(
            fixed,
            grid_id=area.grid_id,
            township_id=area.township_id,
            village_id=area.village_id,
            grid_path=area.grid_path,
            fallback_owner=area.fallback_owner,
        )
    decision: Route | Triage
    if department:
        team = tuple(d for d in dict.fromkeys(cooperating) if d != department)
        category = CATEGORIES_BY_CODE.get(fixed.category_code)
        decision = Route(department, team, category, "operator")
    else:
        decision = route_category(fixed.category_code, fixed.township_id, fixed.village_id, rules)
    if isinstance(decision, Triage):
        return Refusal("invalid", "no_route", f"no unit for {fixed.category_code}")
    line = entry(
        act,
        "triaged",
        note,
        category_code=fixed.category_code if fixed.category_code != case.category_code else None,
        grid_id=fixed.grid_id if fixed.grid_id != case.grid_id else None,
    )
    units = ", ".join((decision.lead, *decision.cooperating))
    dispatched = dispatch_route(
        fixed, decision, reason="triage", policy=policy, act=act, why=f"triaged to {units}"
    )
    return merge(Change(fixed, (line,)), dispatched)


def redispatch(
    case: Case,
    *,
    department: str,
    order_id: str | None,
    note: str | None,
    policy: Policy,
    act: Act,
) -> Outcome:
    """The center hands a rejected share to another unit (new order, new clocks)."""
    refused = _guard(case, "redispatch") or _unknown_departments(department)
    if refused:
        return refused
    rejected = [o for o in case.current_orders() if o.status == "rejected"]
    if order_id is not None:
        rejected = [o for o in rejected if o.order_id == order_id]
        if not rejected:
            return Refusal(
                "conflict", "order_not_rejected", f"{order_id} is not a rejected order of this case"
            )
    if len(rejected) != 1:
        return Refusal(
            "invalid",
            "order_id_required",
            "several shares were rejected: name the order to re-dispatch",
            {"rejected_orders": [o.order_id for o in rejected]},
        )
    (target,) = rejected
    share = [o for o in case.orders if o.round == case.round and o.slot == target.slot]
    if department in {o.department for o in share if o.status == "rejected"}:
        return Refusal(
            "conflict",
            "department_rejected_before",
            f"{department} already rejected this share of the case",
            {"department": department},
        )
    if department in {o.department for o in case.current_orders() if o.active}:
        return Refusal(
            "conflict",
            "department_already_assigned",
            f"{department} already holds an open order of this case",
            {"department": department},
        )
    order = new_order(
        case,
        department,
        slot=target.slot,
        role=target.role,
        reason="redispatch",
        policy=policy,
        act=act,
        previous=target.order_id,
        comment=note,
    )
    why = note or f"re-dispatched after {target.department} rejected"
    return issue(case, [order], why, act)


def joint_action(
    case: Case,
    *,
    lead: str,
    cooperating: Sequence[str],
    note: str | None,
    policy: Policy,
    act: Act,
) -> Outcome:
    """The center starts a joint action: one order per unit, the lead's report closes it."""
    refused = _guard(case, "joint-action") or _unknown_departments(lead, *cooperating)
    if refused:
        return refused
    team = tuple(d for d in dict.fromkeys(cooperating) if d != lead)
    if not team:
        return Refusal("invalid", "cooperating_required", "a joint action needs cooperating units")
    if any(o.active for o in case.current_orders()):
        return Refusal(
            "conflict",
            "orders_open",
            "orders of this case are still open: re-dispatch the rejected share instead",
        )
    fresh = case
    if case.orders:
        # A fresh round: the rejected shares no longer count towards the case's status.
        fresh = replace(case, round=case.round + 1, round_reason="joint-action")
    route = Route(lead, team, CATEGORIES_BY_CODE.get(case.category_code), "operator")
    why = note or f"joint action: {lead} leads, {', '.join(team)} cooperate"
    line = entry(act, "joint_action", note, lead=lead, cooperating=list(team))
    return merge(
        Change(fresh, (line,)),
        dispatch_route(fresh, route, reason="joint-action", policy=policy, act=act, why=why),
    )


def escalate(
    case: Case, *, decision: Route | Triage, note: str | None, policy: Policy, act: Act
) -> Outcome:
    """The village could not solve it: the center routes it like any other report."""
    refused = _guard(case, "escalate")
    if refused:
        return refused
    event = CaseEscalated(**area_fields(case, act), escalated_at=act.at, note=note)
    escalated = Change(
        case,
        (entry(act, "escalated", note),),
        ((derived_id("case-escalated", case.case_id), event),),
    )
    return merge(escalated, route_or_triage(case, decision, "escalated", policy, act))


def resolve_locally(case: Case, *, resolution: str, act: Act) -> Outcome:
    """Solved at village or community level: no order, the case ends here."""
    refused = _guard(case, "resolve-locally")
    if refused:
        return refused
    resolved = replace(case, status="resolved_locally", resolution=resolution, closed_at=act.at)
    event = CaseResolvedLocally(**area_fields(case, act), resolved_at=act.at, resolution=resolution)
    return Change(
        resolved,
        (entry(act, "resolved_locally", resolution),),
        ((derived_id("case-resolved-locally", case.case_id), event),),
    )


def decide_extension(
    case: Case,
    *,
    order_id: str,
    approve: bool,
    complete_by: datetime | None,
    note: str | None,
    act: Act,
) -> Outcome:
    """The center approves (moving complete-by) or refuses (keeping it) a pending request."""
    order = case.order(order_id)
    if order is None:
        return Refusal("not_found", "order_not_found", f"no order {order_id}")
    request = order.pending_extension
    if request is None:
        return Refusal(
            "conflict", "no_pending_extension", f"order {order_id} has no pending request"
        )
    if not order.active:
        return illegal("decide an extension", order.status, ["accepted", "in_progress"])
    if not approve:
        decided = replace(
            request, status="refused", decided_at=act.at, decided_by=act.who, note=note
        )
        updated = replace(order, extensions=(*order.extensions[:-1], decided))
        line = entry(act, "extension_refused", note, order_id=order_id, department=order.department)
        return Change(moved(case, updated), (line,))
    new_complete_by = complete_by or request.proposed_complete_by
    if new_complete_by <= order.complete_by:
        return Refusal(
            "invalid",
            "extension_not_later",
            "the approved complete-by is not later than the current one",
            {"complete_by": order.complete_by.isoformat()},
        )
    decided = replace(
        request,
        status="approved",
        decided_at=act.at,
        decided_by=act.who,
        note=note,
        approved_complete_by=new_complete_by,
    )
    updated = replace(
        order, complete_by=new_complete_by, extensions=(*order.extensions[:-1], decided)
    )
    event = CaseExtended(
        **case_fields(case, updated),
        extended_at=act.at,
        previous_complete_by=order.complete_by,
        complete_by=new_complete_by,
        reason=request.reason,
        approved_by=act.who,
    )
    line = entry(
        act,
        "extended",
        note or request.reason,
        order_id=order_id,
        department=order.department,
        previous_complete_by=order.complete_by,
        complete_by=new_complete_by,
    )
    message_id = derived_id("case-extended", order_id, str(len(order.extensions)))
    return Change(moved(case, updated), (line,), ((message_id, event),))


def feedback(
    case: Case, *, satisfied: bool, comment: str | None, policy: Policy, act: Act
) -> Outcome:
    """The reporter's verdict: closed, or reopened and sent back to the same department."""
    refused = _guard(case, "feedback")
    if refused:
        return refused
    closing = case.lead()
    if closing is None:
        return Refusal("conflict", "no_closing_order", "the case has no lead or sole order")
    if satisfied or case.reopens >= policy.max_reopens:
        closed = replace(case, status="closed", satisfied=satisfied, closed_at=act.at)
        event = CaseClosed(
            **case_fields(case, closing),
            closed_at=act.at,
            satisfied=satisfied,
            comment=comment,
            reopens=case.reopens,
        )
        why = comment if satisfied else f"not satisfied, reopen limit reached: {comment or ''}"
        line = entry(act, "closed", why, satisfied=satisfied)
        message_id = derived_id("case-closed", case.case_id)
        return Change(closed, (line,), ((message_id, event),))
    reopened = replace(
        case, round=case.round + 1, round_reason="reopened", reopens=case.reopens + 1
    )
    order = new_order(
        reopened,
        closing.department,
        slot="sole",
        role="sole",
        reason="reopened",
        policy=policy,
        act=act,
        previous=closing.order_id,
        comment=comment,
    )
    issued = issue(reopened, [order], "the reporter was not satisfied", rule_act(act))
    reopen_event = CaseReopened(
        **case_fields(issued.case, order),
        reopened_at=act.at,
        previous_order_id=closing.order_id,
        reopens=reopened.reopens,
        comment=comment,
    )
    line = entry(act, "reopened", comment, order_id=closing.order_id, department=closing.department)
    return Change(
        issued.case,
        (line, *issued.history),
        (*issued.messages, (derived_id("case-reopened", order.order_id), reopen_event)),
    )
