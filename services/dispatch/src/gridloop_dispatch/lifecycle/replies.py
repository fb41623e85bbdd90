"""A department's reply about its order: accept, reject, progress, complete, ask for time."""

from __future__ import annotations

from dataclasses import replace

from gridloop_common.contracts import (
    AcceptOrder,
    CaseAccepted,
    CaseCompleted,
    CaseFlagged,
    CaseRejected,
    CaseReplyRefused,
    CompleteOrder,
    OrderReply,
    RejectOrder,
    ReportProgress,
    RequestExtension,
)
from gridloop_common.envelope import derived_id
from gridloop_dispatch.lifecycle.core import (
    ORDER_MOVES,
    Act,
    Change,
    Outcome,
    Policy,
    Refusal,
    derive_status,
    entry,
    illegal,
    rule_act,
)
from gridloop_dispatch.lifecycle.dispatching import issue, merge, new_order
from gridloop_dispatch.lifecycle.messages import case_fields
from gridloop_dispatch.model import Case, Extension, Order


def apply_reply(case: Case, reply: OrderReply, sender: str, policy: Policy, act: Act) -> Outcome:
    """A department's reply about one of its orders, from whichever channel it came."""
    order = case.order(reply.order_id)
    if order is None:
        return Refusal("not_found", "order_not_found", f"no order {reply.order_id}")
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
    return Refusal("invalid", "unknown_reply", f"no rule for {type(reply).__name__}")


def _refuse_foreign_reply(
    case: Case, order: Order, reply: OrderReply, sender: str, act: Act
) -> Refusal:
    detail = f"order {order.order_id} belongs to {order.department}, not {sender}"
    event = CaseReplyRefused(
        **{**case_fields(case, order), "department": sender},
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
    return Refusal("forbidden", "not_your_order", detail, {"order_id": order.order_id}, record)


def moved(case: Case, order: Order) -> Case:
    updated = case.with_order(order)
    return replace(updated, status=derive_status(updated))


def _accept(case: Case, order: Order, reply: AcceptOrder, act: Act) -> Change:
    # dispatch's clock, not the department's claim, is the time of record for the SLA.
    accepted = replace(order, status="accepted", accepted_at=act.at, handler=reply.handler)
    updated = moved(case, accepted)
    event = CaseAccepted(
        **case_fields(updated, accepted), accepted_at=act.at, handler=reply.handler
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
            "conflict",
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
    updated = replace(moved(case, rejected), rejections=case.rejections + 1)
    event = CaseRejected(
        **case_fields(updated, rejected),
        rejected_at=act.at,
        reason_code=reply.reason_code,
        reason_text=reply.reason_text,
        rejections=updated.rejections,
        accepted_at=order.accepted_at,
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
        **case_fields(flagged, rejected),
        flagged_at=act.at,
        bounces=case.rejections,
        threshold=policy.flag_after_bounces,
    )
    why = f"bounced {case.rejections} times, more than {policy.flag_after_bounces}"
    line = entry(rule_act(act), "flagged", why, bounces=case.rejections)
    return merge(
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
        return merge(change, Change(case, (entry(rule, "fallback_unavailable", why),)))
    order = new_order(
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
    return merge(change, issue(case, [order], why, rule))


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
    return Change(case.with_order(working) if late else moved(case, working), (line,))


def _complete(case: Case, order: Order, reply: CompleteOrder, act: Act) -> Outcome:
    if order.role == "lead":
        # The lead's completion report is the case's closing report: it comes last.
        still_open = [
            o for o in case.current_orders() if o.slot != order.slot and o.status != "completed"
        ]
        if still_open:
            return Refusal(
                "conflict",
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
    updated = moved(case, done)
    event = CaseCompleted(
        **case_fields(updated, done),
        completed_at=act.at,
        result=reply.result,
        handler=done.handler,
        case_complete=updated.status == "completed",
        role=done.role,
        photo_urls=reply.photo_urls,
        accepted_at=order.accepted_at,
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
            "conflict",
            "extension_pending",
            "an extension request for this order already waits for the center",
            {"order_id": order.order_id},
        )
    if reply.proposed_complete_by <= order.complete_by:
        return Refusal(
            "invalid",
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
    return Change(moved(case, updated), (line,))
