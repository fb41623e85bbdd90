"""The vocabulary: allowed moves, policy, act, change, refusal, timeline line, case status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from gridloop_common.contracts import Message
from gridloop_dispatch.model import Case, CaseStatus, OrderStatus

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


# How an act reached dispatch: a broker message, an HTTP request, or dispatch's own rules.
Via = Literal["amqp", "http", "rule"]


@dataclass(frozen=True)
class Act:
    """Who does something, when, through which channel, and the id that makes it idempotent."""

    at: datetime
    who: str
    cause_id: str
    via: Via


@dataclass(frozen=True)
class Change:
    case: Case
    history: tuple[dict[str, Any], ...]
    # (message id, message): message ids are derived, so a recomputation yields the same ids.
    messages: tuple[tuple[str, Message], ...] = ()


# What sort of refusal: the API answers each with its HTTP status, the AMQP handler parks it.
RefusalKind = Literal["not_found", "invalid", "conflict", "forbidden"]


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
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
        "conflict",
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
