"""Property-based: any sequence of department replies, center actions and verdicts, in any order,
from the right department or another, moves a case only along its rules or is refused with a
reason; nothing raises, and every state the case passes through is one dispatch can store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from services.dispatch.tests.test_lifecycle import NOW, POLICY, act, opened

from gridloop_common.contracts import (
    REJECT_REASONS,
    AcceptOrder,
    CompleteOrder,
    RejectOrder,
    ReportProgress,
    RequestExtension,
)
from gridloop_dispatch import lifecycle
from gridloop_dispatch.api import HTTP_STATUS
from gridloop_dispatch.lifecycle import ORDER_MOVES, Change, Refusal, apply_reply, derive_status
from gridloop_dispatch.model import Case, case_document, case_from_document

DEPARTMENTS = ["city-mgmt", "water", "xijin-gov", "housing"]

# One step: who does what to which order (by its position among the case's orders, so steps
# stay meaningful as orders are added), or an id no order has.
# Weighted toward the happy path (the owner accepting, completing, the reporter judging), so
# sequences reach completed, closed and reopened cases, with every other move mixed in.
KINDS = ["accept", "complete", "feedback"] * 3 + [
    "reject",
    "progress",
    "request-extension",
    "redispatch",
    "decide-extension",
]
steps = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from([0, 0, 0, 1, 2, 3, -1]),
        st.sampled_from(["owner"] * 8 + DEPARTMENTS),
        st.sampled_from(sorted(REJECT_REASONS)),
        st.booleans(),
        st.integers(1, 600),  # minutes after the case opened
    ),
    max_size=14,
)


def _reply(kind: str, order_id: str, department: str, reason: str, flag: bool) -> Any:
    if kind == "accept":
        return AcceptOrder(order_id=order_id, department=department, handler="w-1")
    if kind == "reject":
        return RejectOrder(
            order_id=order_id, department=department, reason_code=reason, reason_text="不归我们"
        )
    if kind == "progress":
        return ReportProgress(order_id=order_id, department=department, note="在处理")
    if kind == "complete":
        return CompleteOrder(order_id=order_id, department=department, result="已修复")
    return RequestExtension(
        order_id=order_id,
        department=department,
        reason="需要材料",
        proposed_complete_by=NOW + timedelta(days=5 if flag else -1),
    )


def _step(case: Case, step: tuple[str, int, str, str, bool, int]) -> lifecycle.Outcome:
    kind, position, sender, reason, flag, minutes = step
    orders = case.orders
    order = orders[position % len(orders)] if position >= 0 and orders else None
    order_id = order.order_id if order else "O-no-such-order"
    who = order.department if order and sender == "owner" else sender.replace("owner", "water")
    when = act(who, minutes=minutes)
    if kind == "redispatch":
        return lifecycle.redispatch(
            case, department=who, order_id=None, note=None, policy=POLICY, act=when
        )
    if kind == "decide-extension":
        return lifecycle.decide_extension(
            case, order_id=order_id, approve=flag, complete_by=None, note=None, act=when
        )
    if kind == "feedback":
        return lifecycle.feedback(case, satisfied=flag, comment=None, policy=POLICY, act=when)
    return apply_reply(case, _reply(kind, order_id, who, reason, flag), who, POLICY, when)


@settings(
    max_examples=1000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(st.sampled_from(["road-damage", "water-pipe-burst", "neighbour-dispute"]), steps)
def test_any_sequence_moves_a_case_by_its_rules_or_is_refused_with_a_reason(
    category: str, sequence: list[tuple[str, int, str, str, bool, int]]
) -> None:
    case = opened(category).case
    for step in sequence:
        event(f"{step[0]} on a {case.status} case")
        outcome = _step(case, step)
        if isinstance(outcome, Refusal):
            assert outcome.code and outcome.detail
            assert 400 <= HTTP_STATUS[outcome.kind] < 500  # the caller's error, never ours
            continue
        assert isinstance(outcome, Change)
        before, case = case, outcome.case
        assert case.status == derive_status(case)
        assert len(case.orders) >= len(before.orders)
        # No order disappears, and none goes back to a state its moves do not start from.
        for old in before.orders:
            new = case.order(old.order_id)
            assert new is not None
            assert new.status == old.status or old.status in ORDER_MOVES.get(step[0], {old.status})
        # What dispatch stores and reads back is the same case.
        assert case_from_document(case_document(case)) == case
    event(f"ended {case.status}")
