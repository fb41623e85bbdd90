"""The case and order state machine: each operation maps a case to a change or a refusal.

- core: the moves each operation may start from, Policy, Act, Change, Refusal, entry, status.
- messages: the work order and the case-dispatched event for an order, the facts events carry.
- dispatching: new orders with their clocks and messages; open_case, from a report.
- replies: apply_reply, a department's reply about one of its orders.
- center: the center's operations (triage, redispatch, joint_action, escalate, resolve_locally,
  decide_extension) and the reporter's feedback.

Helpers without an underscore that are not listed below (issue, merge, moved, ...) are shared
by these modules only.
"""

from gridloop_dispatch.lifecycle.center import (
    decide_extension,
    escalate,
    feedback,
    joint_action,
    redispatch,
    resolve_locally,
    triage,
)
from gridloop_dispatch.lifecycle.core import (
    ORDER_MOVES,
    Act,
    Change,
    Outcome,
    Policy,
    Refusal,
    RefusalKind,
    Via,
    derive_status,
)
from gridloop_dispatch.lifecycle.dispatching import open_case
from gridloop_dispatch.lifecycle.replies import apply_reply

__all__ = [
    "ORDER_MOVES",
    "Act",
    "Change",
    "Outcome",
    "Policy",
    "Refusal",
    "RefusalKind",
    "Via",
    "apply_reply",
    "decide_extension",
    "derive_status",
    "escalate",
    "feedback",
    "joint_action",
    "open_case",
    "redispatch",
    "resolve_locally",
    "triage",
]
