"""The state machine: what each operation does to a case, and what it refuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

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
    OrderReply,
    RejectOrder,
    ReportProgress,
    ReportReceived,
    RequestExtension,
    WorkOrder,
)
from gridloop_dispatch import lifecycle
from gridloop_dispatch.areas import Area
from gridloop_dispatch.lifecycle import (
    Act,
    Change,
    Outcome,
    Policy,
    Refusal,
    Via,
    apply_reply,
    open_case,
)
from gridloop_dispatch.model import (
    Case,
    case_document,
    case_from_document,
    case_id_for,
    order_id_for,
)
from gridloop_dispatch.routing import route

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EIGHT_HOURS = timedelta(hours=8)
POLICY = Policy(
    accept_window=EIGHT_HOURS,
    fallback_after_rejections=2,
    flag_after_bounces=1,
    max_reopens=1,
    local_first_categories=frozenset({"neighbour-dispute"}),
)
AREA = Area(
    "grd-xijin-001-01", "twp-xijin", "vil-xijin-001", "西津街道 / 阳景社区 / 第1网格", "twp-xijin"
)
_counter = iter(range(1, 1_000_000))


def act(who: str = "dispatch", minutes: float = 0, via: Via = "amqp") -> Act:
    return Act(NOW + timedelta(minutes=minutes), who, f"cause-{next(_counter)}", via)


def a_report(
    category: str = "road-damage", report_id: str = "R-1", grid: str = AREA.grid_id
) -> ReportReceived:
    return ReportReceived(
        report_id=report_id,
        channel="native",
        grid_id=grid,
        category_code=category,
        description="路面坑洼",
        reported_at=NOW,
    )


def opened(category: str = "road-damage", area: Area = AREA, policy: Policy = POLICY) -> Change:
    report = a_report(category, grid=area.grid_id)
    decision = route(category, area.grid_id, area.township_id, area.village_id, [])
    return open_case(report, area, decision, policy, act())


def changed(outcome: Outcome) -> Change:
    assert isinstance(outcome, Change), outcome
    return outcome


def refused(outcome: Outcome) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    return outcome


def reply(case: Case, message: OrderReply, sender: str | None = None) -> Outcome:
    return apply_reply(case, message, sender or message.department, POLICY, act(message.department))


def accepted(case: Case) -> Case:
    order = case.current_orders()[0]
    return changed(
        reply(case, AcceptOrder(order_id=order.order_id, department=order.department))
    ).case


def completed(case: Case) -> Case:
    order = case.current_orders()[0]
    done = CompleteOrder(order_id=order.order_id, department=order.department, result="修好了")
    return changed(reply(case, done)).case


def rejected(case: Case, reason: str = "not-ours") -> Change:
    order = next(o for o in case.current_orders() if o.active)
    message = RejectOrder(order_id=order.order_id, department=order.department, reason_code=reason)
    return changed(reply(case, message))


def kinds(change: lifecycle.Change) -> list[type]:
    return [type(message) for _, message in change.messages]


# --- opening --------------------------------------------------------------------------------


def test_a_routed_report_opens_a_dispatched_case_with_one_order_and_its_messages() -> None:
    change = opened()
    case = change.case
    assert case.status == "dispatched"
    [order] = case.orders
    assert (order.department, order.role, order.status) == ("city-mgmt", "sole", "dispatched")
    assert order.accept_by == NOW + EIGHT_HOURS
    assert order.complete_by == NOW + timedelta(hours=72)
    assert kinds(change) == [WorkOrder, CaseDispatched]
    work_order = change.messages[0][1]
    assert isinstance(work_order, WorkOrder)
    assert work_order.routing_key() == "city-mgmt"
    assert work_order.grid_path == AREA.grid_path
    assert [line["what"] for line in change.history] == ["dispatched"]


def test_the_completion_scale_shrinks_every_limit_alike() -> None:
    scaled = replace(POLICY, complete_within_scale=1 / 3600)  # an hour of city life a second
    [order] = opened(policy=scaled).case.orders
    assert order.complete_by == NOW + timedelta(seconds=72)


def test_ids_are_derived_so_a_redelivered_report_maps_to_the_same_case_and_messages() -> None:
    first, again = opened(), opened()
    assert first.case.case_id == again.case.case_id == case_id_for("R-1")
    assert [mid for mid, _ in first.messages] == [mid for mid, _ in again.messages]
    assert case_id_for("R-1") != case_id_for("R-2")
    assert order_id_for("C-1", "water", 1) != order_id_for("C-1", "water", 2)


def test_an_unclassified_report_waits_on_the_triage_list_and_publishes_nothing() -> None:
    change = opened("unclassified")
    assert change.case.status == "awaiting_triage"
    assert change.case.triage_reasons == ("unclassified",)
    assert change.messages == ()


def test_a_local_first_category_waits_for_the_village() -> None:
    change = opened("neighbour-dispute")
    assert change.case.status == "reported"
    assert change.messages == ()


def test_the_case_survives_a_round_trip_through_its_document() -> None:
    case = accepted(opened().case)
    assert case_from_document(case_document(case)) == case


# --- a department's replies -----------------------------------------------------------------


def test_accept_then_progress_then_complete_walks_the_case_to_completed() -> None:
    case = opened().case
    order = case.orders[0]
    step = changed(reply(case, AcceptOrder(order_id=order.order_id, department="city-mgmt")))
    assert step.case.status == "accepted"
    assert kinds(step) == [CaseAccepted]
    step = changed(
        reply(
            step.case,
            ReportProgress(order_id=order.order_id, department="city-mgmt", note="材料已到"),
        )
    )
    assert step.case.status == "in_progress"
    assert step.messages == ()
    step = changed(
        reply(
            step.case,
            CompleteOrder(
                order_id=order.order_id,
                department="city-mgmt",
                result="已修补",
                photo_urls=("https://p/1.jpg",),
            ),
        )
    )
    assert step.case.status == "completed"
    [(_, event)] = step.messages
    assert isinstance(event, CaseCompleted) and event.case_complete


def test_a_progress_note_handled_after_the_completion_is_kept_and_moves_nothing() -> None:
    case = completed(accepted(opened().case))
    order = case.orders[0]
    note = ReportProgress(order_id=order.order_id, department="city-mgmt", note="材料已到")
    step = changed(reply(case, note))
    assert step.case.status == "completed"
    assert step.case.orders[0].status == "completed"
    assert step.case.orders[0].progress_reports == 1
    assert step.messages == ()
    [line] = step.history
    assert (line["what"], line["after_completion"]) == ("progress", True)


def test_an_extension_request_handled_after_the_completion_is_kept_and_asks_nothing() -> None:
    case = completed(accepted(opened().case))
    order = case.orders[0]
    request = RequestExtension(
        order_id=order.order_id,
        department="city-mgmt",
        reason="等待沥青",
        proposed_complete_by=order.complete_by + timedelta(days=2),
    )
    step = changed(reply(case, request))
    assert step.case.status == "completed"
    assert step.case.orders[0].pending_extension is None
    assert step.case.orders[0].extensions == ()
    assert step.messages == ()
    [line] = step.history
    assert (line["what"], line["after_completion"]) == ("extension_requested", True)


def test_an_illegal_transition_is_refused_with_what_was_allowed() -> None:
    case = opened().case
    order = case.orders[0]
    done = CompleteOrder(order_id=order.order_id, department="city-mgmt", result="x")
    refusal = refused(reply(case, done))
    assert (refusal.kind, refusal.code) == ("conflict", "illegal_transition")
    assert refusal.extra["allowed_from"] == ["accepted", "in_progress"]
    again = refused(
        reply(accepted(case), AcceptOrder(order_id=order.order_id, department="city-mgmt"))
    )
    assert again.extra["current_status"] == "accepted"


def test_a_reply_about_another_departments_order_is_refused_and_recorded() -> None:
    case = opened().case
    order = case.orders[0]
    refusal = refused(reply(case, AcceptOrder(order_id=order.order_id, department="water")))
    assert (refusal.kind, refusal.code) == ("forbidden", "not_your_order")
    assert refusal.record is not None
    assert refusal.record.case == case, "nothing moves"
    [(_, event)] = refusal.record.messages
    assert isinstance(event, CaseReplyRefused)
    assert (event.department, event.owner_department) == ("water", "city-mgmt")
    assert event.routing_key() == "case.reply_refused.water"


def test_an_unknown_order_is_not_found() -> None:
    case = opened().case
    assert (
        refused(reply(case, AcceptOrder(order_id="O-x", department="city-mgmt"))).kind
        == "not_found"
    )


# --- rejection, re-dispatch, fallback, flag --------------------------------------------------


def test_a_rejection_waits_for_the_center_which_re_dispatches_with_new_clocks() -> None:
    step = rejected(opened().case)
    assert step.case.status == "rejected"
    assert kinds(step) == [CaseRejected]
    later = act("op-wang", minutes=30, via="http")
    moved = changed(
        lifecycle.redispatch(
            step.case,
            department="housing",
            order_id=None,
            note="住建负责",
            policy=POLICY,
            act=later,
        )
    )
    assert moved.case.status == "dispatched"
    new = moved.case.orders[-1]
    assert (new.department, new.previous_order_id) == ("housing", step.case.orders[0].order_id)
    assert new.accept_by == later.at + EIGHT_HOURS
    assert kinds(moved) == [WorkOrder, CaseDispatched]


def test_re_dispatch_to_a_unit_that_rejected_the_share_is_refused() -> None:
    step = rejected(opened().case)
    refusal = refused(
        lifecycle.redispatch(
            step.case, department="city-mgmt", order_id=None, note=None, policy=POLICY, act=act()
        )
    )
    assert refusal.code == "department_rejected_before"


def test_enough_rejections_hand_the_case_to_the_township_government_and_flag_it() -> None:
    first = rejected(opened().case)
    second_order = changed(
        lifecycle.redispatch(
            first.case, department="housing", order_id=None, note=None, policy=POLICY, act=act()
        )
    ).case
    second = rejected(second_order, "wrong-area")
    # POLICY: fallback after 2 rejections of the share, flagged when bounced more than once.
    assert kinds(second) == [CaseRejected, CaseFlagged, WorkOrder, CaseDispatched]
    fallback = second.case.orders[-1]
    assert (fallback.department, fallback.fallback, fallback.dispatch_reason) == (
        "twp-xijin",
        True,
        "fallback",
    )
    assert second.case.flagged
    assert second.case.status == "dispatched"
    assert [line["what"] for line in second.history] == ["rejected", "flagged", "dispatched"]
    assert second.history[-1]["who"] == "dispatch"


def test_the_fallback_owner_cannot_reject() -> None:
    case = rejected(opened().case).case
    case = changed(
        lifecycle.redispatch(
            case, department="housing", order_id=None, note=None, policy=POLICY, act=act()
        )
    ).case
    case = rejected(case).case
    fallback = case.orders[-1]
    message = RejectOrder(
        order_id=fallback.order_id, department="twp-xijin", reason_code="not-ours"
    )
    assert refused(reply(case, message)).code == "fallback_owner_cannot_reject"


def test_without_a_known_township_the_center_keeps_the_case() -> None:
    nowhere = Area("grd-unknown", None, None, None, None)
    case = rejected(opened(area=nowhere).case).case
    case = changed(
        lifecycle.redispatch(
            case, department="housing", order_id=None, note=None, policy=POLICY, act=act()
        )
    ).case
    step = rejected(case)
    assert step.case.status == "rejected"
    assert step.history[-1]["what"] == "fallback_unavailable"


# --- extensions -----------------------------------------------------------------------------


def _extension_requested(days: int = 2) -> lifecycle.Change:
    case = accepted(opened().case)
    order = case.orders[0]
    request = RequestExtension(
        order_id=order.order_id,
        department="city-mgmt",
        reason="等待沥青",
        proposed_complete_by=order.complete_by + timedelta(days=days),
    )
    return changed(reply(case, request))


def test_an_extension_request_waits_for_the_center_and_only_one_at_a_time() -> None:
    step = _extension_requested()
    assert step.messages == ()
    assert step.case.orders[0].pending_extension is not None
    assert case_document(step.case)["extension_pending"] is True
    order = step.case.orders[0]
    again = RequestExtension(
        order_id=order.order_id,
        department="city-mgmt",
        reason="again",
        proposed_complete_by=order.complete_by + timedelta(days=9),
    )
    assert refused(reply(step.case, again)).code == "extension_pending"


def test_approval_moves_complete_by_and_publishes_case_extended() -> None:
    step = _extension_requested()
    order = step.case.orders[0]
    approved = changed(
        lifecycle.decide_extension(
            step.case, order_id=order.order_id, approve=True, complete_by=None, note=None, act=act()
        )
    )
    [(_, event)] = approved.messages
    assert isinstance(event, CaseExtended)
    assert event.previous_complete_by == order.complete_by
    assert approved.case.orders[0].complete_by == order.complete_by + timedelta(days=2)
    assert approved.case.orders[0].pending_extension is None


def test_refusal_keeps_complete_by_and_publishes_nothing() -> None:
    step = _extension_requested()
    order = step.case.orders[0]
    kept = changed(
        lifecycle.decide_extension(
            step.case,
            order_id=order.order_id,
            approve=False,
            complete_by=None,
            note="不批",
            act=act(),
        )
    )
    assert kept.messages == ()
    assert kept.case.orders[0].complete_by == order.complete_by
    assert kept.case.orders[0].extensions[-1].status == "refused"


def test_an_extension_must_move_complete_by_later() -> None:
    case = accepted(opened().case)
    order = case.orders[0]
    early = RequestExtension(
        order_id=order.order_id,
        department="city-mgmt",
        reason="x",
        proposed_complete_by=order.complete_by - timedelta(hours=1),
    )
    assert refused(reply(case, early)).code == "extension_not_later"


# --- feedback -------------------------------------------------------------------------------


def test_satisfied_feedback_closes_the_case() -> None:
    case = completed(accepted(opened().case))
    step = changed(
        lifecycle.feedback(case, satisfied=True, comment="很好", policy=POLICY, act=act("reporter"))
    )
    assert step.case.status == "closed"
    [(_, event)] = step.messages
    assert isinstance(event, CaseClosed) and event.satisfied


def test_unsatisfied_feedback_reopens_and_sends_it_back_to_the_same_department() -> None:
    case = completed(accepted(opened().case))
    step = changed(
        lifecycle.feedback(case, satisfied=False, comment="还是坑", policy=POLICY, act=act())
    )
    assert step.case.status == "reopened"
    new = step.case.orders[-1]
    assert (new.department, new.round, new.comment) == ("city-mgmt", 2, "还是坑")
    assert kinds(step) == [WorkOrder, CaseDispatched, CaseReopened]
    work_order = step.messages[0][1]
    assert isinstance(work_order, WorkOrder)
    assert (work_order.comment, work_order.dispatch_reason) == ("还是坑", "reopened")


def test_past_the_reopen_limit_unsatisfied_feedback_closes_the_case_unsatisfied() -> None:
    case = completed(accepted(opened().case))
    case = changed(
        lifecycle.feedback(case, satisfied=False, comment=None, policy=POLICY, act=act())
    ).case
    case = completed(accepted(case))
    step = changed(
        lifecycle.feedback(case, satisfied=False, comment="仍未解决", policy=POLICY, act=act())
    )
    assert step.case.status == "closed"
    [(_, event)] = step.messages
    assert isinstance(event, CaseClosed) and not event.satisfied


def test_feedback_before_completion_is_refused() -> None:
    refusal = refused(
        lifecycle.feedback(opened().case, satisfied=True, comment=None, policy=POLICY, act=act())
    )
    assert (refusal.kind, refusal.extra["allowed_from"]) == ("conflict", ["completed"])


# --- joint action ---------------------------------------------------------------------------


def _joint() -> lifecycle.Change:
    case = opened("unclassified").case
    return changed(
        lifecycle.joint_action(
            case,
            lead="housing",
            cooperating=["city-mgmt", "natural-resources"],
            note=None,
            policy=POLICY,
            act=act("op-li", via="http"),
        )
    )


def test_a_joint_action_issues_one_order_per_unit_each_with_its_own_clocks() -> None:
    step = _joint()
    roles = [(o.department, o.role) for o in step.case.orders]
    assert roles == [
        ("housing", "lead"),
        ("city-mgmt", "cooperating"),
        ("natural-resources", "cooperating"),
    ]
    orders = [m for _, m in step.messages if isinstance(m, WorkOrder)]
    assert {o.lead_department for o in orders} == {"housing"}
    assert orders[0].cooperating_departments == ("city-mgmt", "natural-resources")


def test_the_lead_completes_last_and_that_completes_the_case() -> None:
    case = _joint().case
    for order in case.orders:
        case = changed(
            reply(case, AcceptOrder(order_id=order.order_id, department=order.department))
        ).case
    lead, *cooperating = case.orders
    early = CompleteOrder(order_id=lead.order_id, department="housing", result="总结")
    refusal = refused(reply(case, early))
    assert refusal.code == "cooperating_orders_open"
    assert len(refusal.extra["open_orders"]) == 2
    for order in cooperating:
        step = changed(
            reply(
                case,
                CompleteOrder(order_id=order.order_id, department=order.department, result="ok"),
            )
        )
        [(_, part)] = step.messages
        assert isinstance(part, CaseCompleted) and not part.case_complete
        case = step.case
    assert case.status == "in_progress"
    final = changed(reply(case, early))
    assert final.case.status == "completed"
    [(_, event)] = final.messages
    assert isinstance(event, CaseCompleted) and event.case_complete and event.role == "lead"


def test_a_rejected_single_order_can_become_a_joint_action_in_a_new_round() -> None:
    case = rejected(opened().case, "needs-joint-action").case
    step = changed(
        lifecycle.joint_action(
            case, lead="city-mgmt", cooperating=["water"], note=None, policy=POLICY, act=act()
        )
    )
    assert step.case.round == 2
    assert step.case.status == "dispatched"
    assert [o.role for o in step.case.current_orders()] == ["lead", "cooperating"]


# --- triage and the village -----------------------------------------------------------------


def test_triage_with_a_category_routes_by_the_rules() -> None:
    case = opened("unclassified").case
    step = changed(
        lifecycle.triage(
            case,
            category_code="flooding",
            department=None,
            cooperating=(),
            area=None,
            rules=[],
            note="积水",
            policy=POLICY,
            act=act("op-li", via="http"),
        )
    )
    assert step.case.category_code == "flooding"
    assert step.case.orders[0].department == "water"
    assert step.case.triage_reasons == ()
    assert [line["what"] for line in step.history] == ["triaged", "dispatched"]


def test_triage_of_an_unlocated_case_may_place_it_and_choose_the_unit() -> None:
    unlocated = Area("unlocated", None, None, None, None)
    case = opened("flooding", area=unlocated).case
    assert case.triage_reasons == ("unlocated",)
    step = changed(
        lifecycle.triage(
            case,
            category_code=None,
            department="water-utility",
            cooperating=(),
            area=AREA,
            rules=[],
            note=None,
            policy=POLICY,
            act=act(),
        )
    )
    assert (step.case.grid_id, step.case.fallback_owner) == (AREA.grid_id, "twp-xijin")
    assert step.case.orders[0].department == "water-utility"


def test_triage_needs_a_choice_and_known_names() -> None:
    case = opened("unclassified").case
    common = {"cooperating": (), "area": None, "rules": [], "note": None, "policy": POLICY}
    none = lifecycle.triage(case, category_code=None, department=None, act=act(), **common)  # type: ignore[arg-type]
    assert refused(none).code == "choose_category_or_department"
    bad = lifecycle.triage(case, category_code=None, department="nope", act=act(), **common)  # type: ignore[arg-type]
    assert refused(bad).code == "unknown_department"


def test_the_village_resolves_locally_without_any_order() -> None:
    case = opened("neighbour-dispute").case
    step = changed(lifecycle.resolve_locally(case, resolution="调解成功", act=act("村委")))
    assert step.case.status == "resolved_locally"
    [(_, event)] = step.messages
    assert isinstance(event, CaseResolvedLocally)
    assert event.routing_key() == "case.resolved_locally.twp-xijin"


def test_escalation_routes_the_case_like_any_report() -> None:
    case = opened("neighbour-dispute").case
    decision = route(case.category_code, case.grid_id, case.township_id, case.village_id, [])
    step = changed(
        lifecycle.escalate(case, decision=decision, note="调解不成", policy=POLICY, act=act())
    )
    assert kinds(step) == [CaseEscalated, WorkOrder, CaseDispatched]
    assert step.case.orders[0].department == "justice"


def test_a_dispatched_case_cannot_be_resolved_locally() -> None:
    refusal = refused(lifecycle.resolve_locally(opened().case, resolution="x", act=act()))
    assert refusal.extra["allowed_from"] == ["awaiting_triage", "reported"]


def test_the_next_deadline_follows_the_open_orders() -> None:
    case = opened().case
    assert case.next_deadline() == case.orders[0].accept_by
    case = accepted(case)
    assert case.next_deadline() == case.orders[0].complete_by
    assert completed(case).next_deadline() is None
    assert replace(case, orders=()).next_deadline() is None


def test_a_rejection_and_a_completion_say_when_their_order_was_accepted() -> None:
    # sla-monitor judges the accept clock by these, without waiting for a case.accepted that
    # the reply may have overtaken in its inbox.
    never_accepted = rejected(opened().case)
    [(_, rejection)] = never_accepted.messages[:1]
    assert isinstance(rejection, CaseRejected) and rejection.accepted_at is None

    case = accepted(opened().case)
    order = case.current_orders()[0]
    done = CompleteOrder(order_id=order.order_id, department=order.department, result="修好了")
    completion = next(m for _, m in changed(reply(case, done)).messages)
    assert isinstance(completion, CaseCompleted)
    assert completion.accepted_at == order.accepted_at is not None

    later = rejected(accepted(opened().case))
    rejection = next(m for _, m in later.messages if isinstance(m, CaseRejected))
    assert rejection.accepted_at == later.case.orders[0].accepted_at is not None
