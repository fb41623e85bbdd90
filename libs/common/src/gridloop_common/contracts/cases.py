"""Case life-cycle events published by dispatch (routing key `case.<what>.<department>`)."""

from __future__ import annotations

from typing import ClassVar

from gridloop_common.contracts.base import Event, UtcDatetime
from gridloop_common.contracts.orders import OrderRole


class CaseFacts(Event):
    """What every case event says about the case: which problem, where, whose report."""

    case_id: str
    category_code: str
    grid_id: str
    township_id: str | None = None
    village_id: str | None = None
    report_id: str | None = None
    reporter_id: str | None = None


class CaseEvent(CaseFacts):
    """Something that happened to one work order of a case; the department is its unit."""

    order_id: str
    department: str

    WHAT: ClassVar[str]

    def routing_key(self) -> str:
        return f"case.{self.WHAT}.{self.department}"


class CaseDispatched(CaseEvent):
    """A work order went to a department: the order's accept and complete clocks start."""

    TYPE: ClassVar[str] = "org.gridloop.case.dispatched.v1"
    BINDING: ClassVar[str] = "case.dispatched.#"
    WHAT: ClassVar[str] = "dispatched"

    dispatched_at: UtcDatetime
    accept_by: UtcDatetime
    complete_by: UtcDatetime
    role: OrderRole | None = None
    lead_department: str | None = None
    # routed, triage, escalated, redispatch, fallback, joint-action, reopened.
    dispatch_reason: str | None = None
    # The rejected order this one replaces, or the completed one a reopened case follows up.
    previous_order_id: str | None = None


class CaseAccepted(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.accepted.v1"
    BINDING: ClassVar[str] = "case.accepted.#"
    WHAT: ClassVar[str] = "accepted"

    accepted_at: UtcDatetime
    handler: str | None = None


class CaseRejected(CaseEvent):
    """A department rejected its order: its clocks stop; the center or the fallback rule acts."""

    TYPE: ClassVar[str] = "org.gridloop.case.rejected.v1"
    BINDING: ClassVar[str] = "case.rejected.#"
    WHAT: ClassVar[str] = "rejected"

    rejected_at: UtcDatetime
    reason_code: str
    reason_text: str | None = None
    # Rejections of this case so far, this one included.
    rejections: int | None = None
    # When the unit had accepted the order it now rejects; None: it rejected without accepting.
    # The accept clock's verdict needs no wait for a case.accepted this may have overtaken.
    accepted_at: UtcDatetime | None = None


class CaseCompleted(CaseEvent):
    """A department completed its order; `case_complete` says whether the whole case is done."""

    TYPE: ClassVar[str] = "org.gridloop.case.completed.v1"
    BINDING: ClassVar[str] = "case.completed.#"
    WHAT: ClassVar[str] = "completed"

    completed_at: UtcDatetime
    result: str | None = None
    handler: str | None = None
    # False for a cooperating unit's part of a joint action; the lead's completion ends it.
    case_complete: bool = True
    role: OrderRole | None = None
    photo_urls: tuple[str, ...] = ()
    # When the unit accepted the order (dispatch completes only accepted orders): the accept
    # clock is judged by it, without waiting for a case.accepted this may have overtaken.
    # None only from a dispatch older than the field (2026-12-07).
    accepted_at: UtcDatetime | None = None


class CaseClosed(CaseEvent):
    """The reporter's feedback closed the case (or the reopen limit was reached)."""

    TYPE: ClassVar[str] = "org.gridloop.case.closed.v1"
    BINDING: ClassVar[str] = "case.closed.#"
    WHAT: ClassVar[str] = "closed"

    closed_at: UtcDatetime
    satisfied: bool
    comment: str | None = None
    reopens: int | None = None


class CaseExtended(CaseEvent):
    """The center approved a department's extension request: the order's complete-by moved."""

    TYPE: ClassVar[str] = "org.gridloop.case.extended.v1"
    BINDING: ClassVar[str] = "case.extended.#"
    WHAT: ClassVar[str] = "extended"

    extended_at: UtcDatetime
    previous_complete_by: UtcDatetime
    complete_by: UtcDatetime
    reason: str | None = None
    approved_by: str | None = None


class CaseReopened(CaseEvent):
    """The reporter was not satisfied: a new order (this one) goes back to the same department."""

    TYPE: ClassVar[str] = "org.gridloop.case.reopened.v1"
    BINDING: ClassVar[str] = "case.reopened.#"
    WHAT: ClassVar[str] = "reopened"

    reopened_at: UtcDatetime
    previous_order_id: str
    reopens: int
    comment: str | None = None


class CaseFlagged(CaseEvent):
    """The case bounced between units more often than allowed; the order is the last rejected."""

    TYPE: ClassVar[str] = "org.gridloop.case.flagged.v1"
    BINDING: ClassVar[str] = "case.flagged.#"
    WHAT: ClassVar[str] = "flagged"

    flagged_at: UtcDatetime
    bounces: int
    threshold: int


class CaseReplyRefused(CaseEvent):
    """A department replied about an order that is not its own; `department` is the sender."""

    TYPE: ClassVar[str] = "org.gridloop.case.reply_refused.v1"
    BINDING: ClassVar[str] = "case.reply_refused.#"
    WHAT: ClassVar[str] = "reply_refused"

    refused_at: UtcDatetime
    reply_type: str
    owner_department: str
    reason: str
    via: str | None = None


class CaseAreaEvent(CaseFacts):
    """Something that happened to a case before any order: at village or center level.

    Routing key `case.<what>.<township>`: township ids are the codes of the township
    governments, so `case.*.twp-xijin` hears everything about one township.
    """

    operator: str | None = None

    WHAT: ClassVar[str]

    def routing_key(self) -> str:
        return f"case.{self.WHAT}.{self.township_id or 'unlocated'}"


class CaseEscalated(CaseAreaEvent):
    """The village could not solve it: the case goes to the center to be routed."""

    TYPE: ClassVar[str] = "org.gridloop.case.escalated.v1"
    BINDING: ClassVar[str] = "case.escalated.#"
    WHAT: ClassVar[str] = "escalated"

    escalated_at: UtcDatetime
    note: str | None = None


class CaseResolvedLocally(CaseAreaEvent):
    """Solved at village or community level without a work order; the case ends here."""

    TYPE: ClassVar[str] = "org.gridloop.case.resolved_locally.v1"
    BINDING: ClassVar[str] = "case.resolved_locally.#"
    WHAT: ClassVar[str] = "resolved_locally"

    resolved_at: UtcDatetime
    resolution: str
