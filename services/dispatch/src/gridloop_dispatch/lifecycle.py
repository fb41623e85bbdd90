"""The case and order state machine: each operation maps a case to a change or a refusal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gridloop_common.catalogue import CATEGORIES_BY_CODE, DEPARTMENTS_BY_CODE
from gridloop_common.contracts import (
    AcceptOrder,
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseReplyRefused,
    CaseResolvedLocally,
    CompleteOrder,
    GeoPoint,
    Message,
    OrderReply,
    OrderRole,
    RejectOrder,
    ReportProgress,
    ReportReceived,
    RequestExtension,
    WorkOrder,
)
from gridloop_common.contracts.cases import CaseFacts
from gridloop_common.envelope import derived_id
from gridloop_dispatch.areas import Area
from gridloop_dispatch.model import (
    Case,
    CaseStatus,
    Extension,
    Order,
    OrderStatus,
    case_id_for,
    order_id_for,
)
from gridloop_dispatch.routing import Route, RoutingRule, Triage, route_category

# Which order states each department reply may start from, and where it leads.
ORDER_MOVES: dict[str, dict[str, OrderStatus]] = {
    "accept": {"dispatched": "accepted"},
    "reject": {"dispatched": "rejected", "accepted": "rejected"},
    # From completed: a note sent before the completion and handled after it (replies are
    # handled concurrently) is the department's word all the same; it changes no state.
    "progress": {"accepted": "in_progress", "in_progress": "in_progress", "completed": "completed"},
    "complete": {"accepted": "completed", "in_progress": "completed"},
    # From completed, likewise: a request overtaken by its own order's completion is moot.
    "request-extension": {
        "accepted": "accepted",
        "in_progress": "in_progress",
        "completed": "completed",
    },
}
# Which case states each center or reporter operation may start from.
CASE_MOVES: dict[str, frozenset[str]] = {
    "triage": frozenset({"awaiting_triage"}),
    "escalate": frozenset({"reported"}),
    "resolve-locally": frozenset({"reported", "awaiting_triage"}),
    "redispatch": frozenset({"rejected"}),
    "joint-action": frozenset({"awaiting_triage", "rejected"}),
    "feedback": frozenset({"completed"}),
}


@dataclass(frozen=True)
class Policy:
    accept_window: timedelta
    default_complete_within_hours: float = 72.0
    complete_within_scale: float = 1.0
    fallback_after_rejections: int = 3
    flag_after_bounces: int = 2
    max_reopens: int = 2
    local_first_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Act:
    """Who does something, when, through which channel, and the id that makes it idempotent."""

    at: datetime
    who: str
    cause_id: str
    via: str  # "amqp", "http" or "rule"


@dataclass(frozen=True)
class Change:
    case: Case
    history: tuple[dict[str, Any], ...]
    # (message id, message): message ids are derived, so a recomputation yields the same ids.
    messages: tuple[tuple[str, Message], ...] = ()


@dataclass(frozen=True)
class Refusal:
    status: int  # the HTTP status the refusal maps to
    code: str
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Stored although nothing moved: a refused reply still leaves its trace and event.
    record: Change | None = None

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


Outcome = Change | Refusal


def illegal(action: str, status: str, allowed: Sequence[str], **extra: Any) -> Refusal:
    return Refusal(
        409,
        "illegal_transition",
        f"cannot {action} from {status}",
        {"action": action, "current_status": status, "allowed_from": sorted(allowed), **extra},
    )


def entry(act: Act, what: str, why: str | None = None, **extra: Any) -> dict[str, Any]:
    """One line of the case's timeline: who did what, when, why, through which channel."""
    line: dict[str, Any] = {"at": act.at, "what": what, "who": act.who, "why": why}
    line["via"] = act.via
    line.update({k: v for k, v in extra.items() if v is not None and v != ()})
    return line


def rule_act(act: Act) -> Act:
    """What dispatch's own rules do in reaction to an act (fallback, flagging)."""
    return replace(act, who="dispatch", via="rule")


# --- case status ----------------------------------------------------------------------------


def derive_status(case: Case) -> CaseStatus:
    """The case's status from its current orders; statuses before and after orders stay."""
    current = case.current_orders()
    if not current or case.status in ("closed", "resolved_locally"):
        return case.status
    statuses = [o.status for o in current]
    if "rejected" in statuses:
        return "rejected"
    if all(s == "completed" for s in statuses):
        return "completed"
    if any(s in ("in_progress", "completed") for s in statuses):
        return "in_progress"
    if all(s == "accepted" for s in statuses):
        return "accepted"
    return "reopened" if case.round_reason == "reopened" else "dispatched"


# --- messages -------------------------------------------------------------------------------


def _facts(case: Case) -> dict[str, Any]:
    """What every case event says about the case (the contract's CaseFacts)."""
    return {name: getattr(case, name) for name in CaseFacts.model_fields}


def _case_fields(case: Case, order: Order) -> dict[str, Any]:
    return {**_facts(case), "order_id": order.order_id, "department": order.department}


def _area_fields(case: Case, act: Act) -> dict[str, Any]:
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
        **_case_fields(case, order),
        dispatched_at=order.dispatched_at,
        accept_by=order.accept_by,
        complete_by=order.complete_by,
        role=order.role,
        lead_department=lead,
        dispatch_reason=order.dispatch_reason,
        previous_order_id=order.previous_order_id,
    )


# --- dispatching ----------------------------------------------------------------------------


def _complete_within(case: Case, policy: Policy) -> timedelta:
    category = CATEGORIES_BY_CODE.get(case.category_code)
    hours = category.complete_within_hours if category else policy.default_complete_within_hours
    return timedelta(hours=hours * policy.complete_within_scale)


def _new_order(
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


def _issue(case: Case, orders: Sequence[Order], why: str | None, act: Act) -> Change:
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


def _dispatch_route(
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
            _new_order(
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
    return _issue(case, orders, why, act)


def _route_or_triage(
    case: Case, decision: Route | Triage, reason: str, policy: Policy, act: Act
) -> Change:
    if isinstance(decision, Triage):
        waiting = replace(case, status="awaiting_triage", triage_reasons=decision.reasons)
        line = entry(act, "awaiting_triage", ", ".join(decision.reasons))
        return Change(waiting, (line,))
    units = ", ".join((decision.lead, *decision.cooperating))
    why = f"routed by {decision.source} to {units}"
    return _dispatch_route(case, decision, reason=reason, policy=policy, act=act, why=why)


def _merge(first: Change, second: Change) -> Change:
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
    return _route_or_triage(case, decision, "routed", policy, act)


# --- department replies ---------------------------------------------------------------------


def apply_reply(case: Case, reply: OrderReply, sender: str, policy: Policy, act: Act) -> Outcome:
    """A department's reply about one of its orders, from whichever channel it came."""
    order = case.order(reply.order_id)
    if order is None:
        return Refusal(404, "order_not_found", f"no order {reply.order_id}")
    if order.department != sender:
        return _refuse_foreign_reply(case, order, reply, sender, act)
    allowed = ORDER_MOVES[reply.ACTION]
    if order.status not in allowed:
        return illegal(reply.ACTION, order.status, list(allowed), order_id=order.order_id)
    if isinstance(reply, AcceptOrder):
        return _accept(case, order, reply, act)
    if isinstance(reply, RejectOrder):
        return _reject(case, order, reply, policy, act)
    if isinstance(reply, ReportProgress):
        return _progress(case, order, reply, act)
    if isinstance(reply, CompleteOrder):
        return _complete(case, order, reply, act)
    if isinstance(reply, RequestExtension):
        return _request_extension(case, order, reply, act)
    return Refusal(422, "unknown_reply", f"no rule for {type(reply).__name__}")


def _refuse_foreign_reply(
    case: Case, order: Order, reply: OrderReply, sender: str, act: Act
) -> Refusal:
    detail = f"order {order.order_id} belongs to {order.department}, not {sender}"
    event = CaseReplyRefused(
        **{**_case_fields(case, order), "department": sender},
        refused_at=act.at,
        reply_type=reply.ACTION,
        owner_department=order.department,
        reason="not_your_order",
        via=act.via,
    )
    line = entry(
        act,
        "reply_refused",
        detail,
        order_id=order.order_id,
        department=sender,
        reply_type=reply.ACTION,
    )
    record = Change(
        case,
        (line,),
        ((derived_id("case-reply-refused", order.order_id, act.cause_id), event),),
    )
    return Refusal(403, "not_your_order", detail, {"order_id": order.order_id}, record)


def _moved(case: Case, order: Order) -> Case:
    updated = case.with_order(order)
    return replace(updated, status=derive_status(updated))


def _accept(case: Case, order: Order, reply: AcceptOrder, act: Act) -> Change:
    # dispatch's clock, not the department's claim, is the time of record for the SLA.
    accepted = replace(order, status="accepted", accepted_at=act.at, handler=reply.handler)
    updated = _moved(case, accepted)
    event = CaseAccepted(
        **_case_fields(updated, accepted), accepted_at=act.at, handler=reply.handler
    )
    line = entry(
        act,
        "accepted",
        reply.note,
        order_id=order.order_id,
        department=order.department,
        handler=reply.handler,
    )
    return Change(updated, (line,), ((derived_id("case-accepted", order.order_id), event),))


def _reject(case: Case, order: Order, reply: RejectOrder, policy: Policy, act: Act) -> Outcome:
    if order.fallback:
        return Refusal(
            409,
            "fallback_owner_cannot_reject",
            f"{order.department} holds this case as the grid's fallback owner; ask the center "
            "for a joint action or an extension instead",
            {"order_id": order.order_id},
        )
    rejected = replace(
        order,
        status="rejected",
        rejected_at=act.at,
        reason_code=reply.reason_code,
        reason_text=reply.reason_text,
        handler=reply.handler or order.handler,
    )
    updated = replace(_moved(case, rejected), rejections=case.rejections + 1)
    event = CaseRejected(
        **_case_fields(updated, rejected),
        rejected_at=act.at,
        reason_code=reply.reason_code,
        reason_text=reply.reason_text,
        rejections=updated.rejections,
    )
    why = reply.reason_code + (f": {reply.reason_text}" if reply.reason_text else "")
    line = entry(
        act,
        "rejected",
        why,
        order_id=order.order_id,
        department=order.department,
        reason_code=reply.reason_code,
        duplicate_of=reply.duplicate_of,
    )
    change = Change(updated, (line,), ((derived_id("case-rejected", order.order_id), event),))
    change = _flag_if_bounced(change, rejected, policy, act)
    return _fallback_if_due(change, rejected, policy, act)


def _flag_if_bounced(change: Change, rejected: Order, policy: Policy, act: Act) -> Change:
    case = change.case
    if case.flagged or case.rejections <= policy.flag_after_bounces:
        return change
    flagged = replace(case, flagged=True)
    event = CaseFlagged(
        **_case_fields(flagged, rejected),
        flagged_at=act.at,
        bounces=case.rejections,
        threshold=policy.flag_after_bounces,
    )
    why = f"bounced {case.rejections} times, more than {policy.flag_after_bounces}"
    line = entry(rule_act(act), "flagged", why, bounces=case.rejections)
    return _merge(
        change,
        Change(flagged, (line,), ((derived_id("case-flagged", case.case_id), event),)),
    )


def _fallback_if_due(change: Change, rejected: Order, policy: Policy, act: Act) -> Change:
    case = change.case
    share = [
        o
        for o in case.orders
        if o.round == case.round and o.slot == rejected.slot and o.status == "rejected"
    ]
    if len(share) < policy.fallback_after_rejections:
        return change
    owner = case.fallback_owner
    busy = {o.department for o in case.current_orders() if o.active}
    rule = rule_act(act)
    if owner is None or owner in busy or owner in {o.department for o in share}:
        why = (
            f"{len(share)} rejections, but the fallback owner "
            + ("is unknown (unlocated grid)" if owner is None else f"{owner} cannot take it")
            + ": the center decides"
        )
        return _merge(change, Change(case, (entry(rule, "fallback_unavailable", why),)))
    order = _new_order(
        case,
        owner,
        slot=rejected.slot,
        role=rejected.role,
        reason="fallback",
        policy=policy,
        act=rule,
        previous=rejected.order_id,
        fallback=True,
    )
    why = f"{len(share)} rejections: the grid's township government {owner} owns it"
    return _merge(change, _issue(case, [order], why, rule))


def _progress(case: Case, order: Order, reply: ReportProgress, act: Act) -> Change:
    late = order.status == "completed"
    working = replace(
        order,
        status=order.status if late else "in_progress",
        progress_reports=order.progress_reports + 1,
    )
    line = entry(
        act,
        "progress",
        reply.note,
        order_id=order.order_id,
        department=order.department,
        handler=reply.handler,
        photo_urls=list(reply.photo_urls),
        after_completion=True if late else None,
    )
    # A late note leaves the case where it is (completed, or closed by then).
    return Change(case.with_order(working) if late else _moved(case, working), (line,))


def _complete(case: Case, order: Order, reply: CompleteOrder, act: Act) -> Outcome:
    if order.role == "lead":
        # The lead's completion report is the case's closing report: it comes last.
        still_open = [
            o for o in case.current_orders() if o.slot != order.slot and o.status != "completed"
        ]
        if still_open:
            return Refusal(
                409,
                "cooperating_orders_open",
                "the lead completes a joint action after every cooperating unit has",
                {
                    "order_id": order.order_id,
                    "open_orders": [
                        {"order_id": o.order_id, "department": o.department, "status": o.status}
                        for o in still_open
                    ],
                },
            )
    done = replace(
        order,
        status="completed",
        completed_at=act.at,
        result=reply.result,
        photo_urls=reply.photo_urls,
        handler=reply.handler or order.handler,
    )
    updated = _moved(case, done)
    event = CaseCompleted(
        **_case_fields(updated, done),
        completed_at=act.at,
        result=reply.result,
        handler=done.handler,
        case_complete=updated.status == "completed",
        role=done.role,
        photo_urls=reply.photo_urls,
    )
    line = entry(
        act,
        "completed",
        reply.result,
        order_id=order.order_id,
        department=order.department,
        handler=done.handler,
        photo_urls=list(reply.photo_urls),
    )
    return Change(updated, (line,), ((derived_id("case-completed", order.order_id), event),))


def _request_extension(case: Case, order: Order, reply: RequestExtension, act: Act) -> Outcome:
    if order.status == "completed":
        # Sent before the completion, handled after it: kept in the timeline, asks nothing.
        moot = entry(
            act,
            "extension_requested",
            reply.reason,
            order_id=order.order_id,
            department=order.department,
            proposed_complete_by=reply.proposed_complete_by,
            after_completion=True,
        )
        return Change(case, (moot,))
    if order.pending_extension is not None:
        return Refusal(
            409,
            "extension_pending",
            "an extension request for this order already waits for the center",
            {"order_id": order.order_id},
        )
    if reply.proposed_complete_by <= order.complete_by:
        return Refusal(
            422,
            "extension_not_later",
            "the proposed complete-by is not later than the current one",
            {"order_id": order.order_id, "complete_by": order.complete_by.isoformat()},
        )
    request = Extension(
        requested_at=act.at,
        requested_by=reply.handler or order.department,
        reason=reply.reason,
        proposed_complete_by=reply.proposed_complete_by,
    )
    updated = replace(order, extensions=(*order.extensions, request))
    line = entry(
        act,
        "extension_requested",
        reply.reason,
        order_id=order.order_id,
        department=order.department,
        proposed_complete_by=reply.proposed_complete_by,
    )
    return Change(_moved(case, updated), (line,))


# --- the center's operations ----------------------------------------------------------------


def _guard(case: Case, action: str) -> Refusal | None:
    allowed = CASE_MOVES[action]
    if case.status not in allowed:
        return illegal(action, case.status, list(allowed), case_id=case.case_id)
    return None


def _unknown_departments(*codes: str) -> Refusal | None:
    unknown = [c for c in codes if c not in DEPARTMENTS_BY_CODE]
    if unknown:
        return Refusal(422, "unknown_department", f"not in the catalogue: {', '.join(unknown)}")
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
            422, "choose_category_or_department", "give a category, a department, or both"
        )
    if category_code and category_code not in CATEGORIES_BY_CODE:
        return Refusal(422, "unknown_category", f"not in the catalogue: {category_code}")
    refused = _unknown_departments(*([department] if department else []), *cooperating)
    if refused:
        return refused
    if cooperating and not department:
        return Refusal(422, "lead_required", "a joint action needs a lead department")
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
        return Refusal(422, "no_route", f"no unit for {fixed.category_code}")
    line = entry(
        act,
        "triaged",
        note,
        category_code=fixed.category_code if fixed.category_code != case.category_code else None,
        grid_id=fixed.grid_id if fixed.grid_id != case.grid_id else None,
    )
    units = ", ".join((decision.lead, *decision.cooperating))
    dispatched = _dispatch_route(
        fixed, decision, reason="triage", policy=policy, act=act, why=f"triaged to {units}"
    )
    return _merge(Change(fixed, (line,)), dispatched)


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
                409, "order_not_rejected", f"{order_id} is not a rejected order of this case"
            )
    if len(rejected) != 1:
        return Refusal(
            422,
            "order_id_required",
            "several shares were rejected: name the order to re-dispatch",
            {"rejected_orders": [o.order_id for o in rejected]},
        )
    (target,) = rejected
    share = [o for o in case.orders if o.round == case.round and o.slot == target.slot]
    if department in {o.department for o in share if o.status == "rejected"}:
        return Refusal(
            409,
            "department_rejected_before",
            f"{department} already rejected this share of the case",
            {"department": department},
        )
    if department in {o.department for o in case.current_orders() if o.active}:
        return Refusal(
            409,
            "department_already_assigned",
            f"{department} already holds an open order of this case",
            {"department": department},
        )
    order = _new_order(
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
    return _issue(case, [order], why, act)


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
        return Refusal(422, "cooperating_required", "a joint action needs cooperating units")
    if any(o.active for o in case.current_orders()):
        return Refusal(
            409,
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
    return _merge(
        Change(fresh, (line,)),
        _dispatch_route(fresh, route, reason="joint-action", policy=policy, act=act, why=why),
    )


def escalate(
    case: Case, *, decision: Route | Triage, note: str | None, policy: Policy, act: Act
) -> Outcome:
    """The village could not solve it: the center routes it like any other report."""
    refused = _guard(case, "escalate")
    if refused:
        return refused
    event = CaseEscalated(**_area_fields(case, act), escalated_at=act.at, note=note)
    escalated = Change(
        case,
        (entry(act, "escalated", note),),
        ((derived_id("case-escalated", case.case_id), event),),
    )
    return _merge(escalated, _route_or_triage(case, decision, "escalated", policy, act))


def resolve_locally(case: Case, *, resolution: str, act: Act) -> Outcome:
    """Solved at village or community level: no order, the case ends here."""
    refused = _guard(case, "resolve-locally")
    if refused:
        return refused
    resolved = replace(case, status="resolved_locally", resolution=resolution, closed_at=act.at)
    event = CaseResolvedLocally(
        **_area_fields(case, act), resolved_at=act.at, resolution=resolution
    )
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
        return Refusal(404, "order_not_found", f"no order {order_id}")
    request = order.pending_extension
    if request is None:
        return Refusal(409, "no_pending_extension", f"order {order_id} has no pending request")
    if not order.active:
        return illegal("decide an extension", order.status, ["accepted", "in_progress"])
    if not approve:
        decided = replace(
            request, status="refused", decided_at=act.at, decided_by=act.who, note=note
        )
        updated = replace(order, extensions=(*order.extensions[:-1], decided))
        line = entry(act, "extension_refused", note, order_id=order_id, department=order.department)
        return Change(_moved(case, updated), (line,))
    new_complete_by = complete_by or request.proposed_complete_by
    if new_complete_by <= order.complete_by:
        return Refusal(
            422,
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
        **_case_fields(case, updated),
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
    return Change(_moved(case, updated), (line,), ((message_id, event),))


def feedback(
    case: Case, *, satisfied: bool, comment: str | None, policy: Policy, act: Act
) -> Outcome:
    """The reporter's verdict: closed, or reopened and sent back to the same department."""
    refused = _guard(case, "feedback")
    if refused:
        return refused
    closing = case.lead()
    if closing is None:
        return Refusal(409, "no_closing_order", "the case has no lead or sole order")
    if satisfied or case.reopens >= policy.max_reopens:
        closed = replace(case, status="closed", satisfied=satisfied, closed_at=act.at)
        event = CaseClosed(
            **_case_fields(case, closing),
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
    order = _new_order(
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
    issued = _issue(reopened, [order], "the reporter was not satisfied", rule_act(act))
    reopen_event = CaseReopened(
        **_case_fields(issued.case, order),
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
