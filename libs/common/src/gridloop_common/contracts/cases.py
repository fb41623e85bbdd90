"""Case life-cycle events published by dispatch (routing key `case.<what>.<department>`)."""

from __future__ import annotations

from typing import ClassVar

from gridloop_common.contracts.base import Event, UtcDatetime


class CaseEvent(Event):
    case_id: str
    order_id: str
    department: str
    category_code: str
    grid_id: str
    township_id: str | None = None
    village_id: str | None = None
    report_id: str | None = None
    reporter_id: str | None = None

    WHAT: ClassVar[str]

    def routing_key(self) -> str:
        return f"case.{self.WHAT}.{self.department}"


class CaseDispatched(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.dispatched.v1"
    BINDING: ClassVar[str] = "case.dispatched.#"
    WHAT: ClassVar[str] = "dispatched"

    dispatched_at: UtcDatetime
    accept_by: UtcDatetime
    complete_by: UtcDatetime


class CaseAccepted(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.accepted.v1"
    BINDING: ClassVar[str] = "case.accepted.#"
    WHAT: ClassVar[str] = "accepted"

    accepted_at: UtcDatetime
    handler: str | None = None


class CaseRejected(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.rejected.v1"
    BINDING: ClassVar[str] = "case.rejected.#"
    WHAT: ClassVar[str] = "rejected"

    rejected_at: UtcDatetime
    reason_code: str
    reason_text: str | None = None


class CaseCompleted(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.completed.v1"
    BINDING: ClassVar[str] = "case.completed.#"
    WHAT: ClassVar[str] = "completed"

    completed_at: UtcDatetime
    result: str | None = None
    handler: str | None = None


class CaseClosed(CaseEvent):
    TYPE: ClassVar[str] = "org.gridloop.case.closed.v1"
    BINDING: ClassVar[str] = "case.closed.#"
    WHAT: ClassVar[str] = "closed"

    closed_at: UtcDatetime
    satisfied: bool
