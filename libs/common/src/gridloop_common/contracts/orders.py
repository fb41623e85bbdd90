"""Work orders (dispatch → department) and department replies (department → dispatch)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from gridloop_common.contracts.base import (
    ORDERS_EXCHANGE,
    REPLIES_EXCHANGE,
    Message,
    UtcDatetime,
)
from gridloop_common.contracts.reports import GeoPoint

# sole: the only unit on the case; lead/cooperating: a joint action (the lead closes it).
OrderRole = Literal["sole", "lead", "cooperating"]

RejectReason = Literal["not-ours", "wrong-area", "duplicate", "needs-joint-action", "other"]
REJECT_REASONS: dict[str, str] = {
    "not-ours": "the problem is not this unit's responsibility",
    "wrong-area": "the place is outside this unit's area",
    "duplicate": "the same problem is already being handled (give duplicate_of)",
    "needs-joint-action": "several units must act together; the center should start a joint action",
    "other": "anything else; reason_text is required",
}


class WorkOrder(Message):
    """A command to one department: handle this case. Routed by department code."""

    TYPE: ClassVar[str] = "org.gridloop.order.v1"
    EXCHANGE: ClassVar[str] = ORDERS_EXCHANGE
    BINDING: ClassVar[str] = ""  # one binding per department: its code

    order_id: str
    case_id: str
    department: str
    category_code: str
    description: str
    grid_id: str
    dispatched_at: UtcDatetime
    accept_by: UtcDatetime
    complete_by: UtcDatetime
    township_id: str | None = None
    village_id: str | None = None
    location: GeoPoint | None = None
    reference: str | None = None
    photo_urls: tuple[str, ...] = ()
    # Human-readable place: township / village or community / grid.
    grid_path: str | None = None
    role: OrderRole | None = None
    lead_department: str | None = None
    cooperating_departments: tuple[str, ...] = ()
    # routed, triage, escalated, redispatch, fallback, joint-action, reopened.
    dispatch_reason: str | None = None
    # The order this one replaces (a rejected one) or follows up (a reopened case).
    previous_order_id: str | None = None
    # The center's note or, on a reopened case, the reporter's comment.
    comment: str | None = None

    def routing_key(self) -> str:
        return self.department


class OrderReply(Message):
    """A department's reply. The sender is the routing key's first word, vouched by the broker."""

    EXCHANGE: ClassVar[str] = REPLIES_EXCHANGE
    ACTION: ClassVar[str]

    order_id: str
    # Set by the publisher for routing; dispatch trusts the routing key, not this field.
    department: str
    handler: str | None = None
    note: str | None = None

    def routing_key(self) -> str:
        return f"{self.department}.{self.ACTION}"

    def subject(self) -> str | None:
        return self.order_id


class AcceptOrder(OrderReply):
    TYPE: ClassVar[str] = "org.gridloop.reply.accept.v1"
    BINDING: ClassVar[str] = "*.accept"
    ACTION: ClassVar[str] = "accept"

    accepted_at: UtcDatetime | None = None


class RejectOrder(OrderReply):
    """The department will not handle the order; the center re-dispatches it."""

    TYPE: ClassVar[str] = "org.gridloop.reply.reject.v1"
    BINDING: ClassVar[str] = "*.reject"
    ACTION: ClassVar[str] = "reject"

    reason_code: RejectReason
    reason_text: str | None = None
    # With reason_code "duplicate": the case already handling the problem.
    duplicate_of: str | None = None

    @model_validator(mode="after")
    def _other_needs_text(self) -> RejectOrder:
        if self.reason_code == "other" and not (self.reason_text or "").strip():
            raise ValueError("reason_code 'other' needs a reason_text")
        return self


class ReportProgress(OrderReply):
    """Work is under way: a note and/or photos."""

    TYPE: ClassVar[str] = "org.gridloop.reply.progress.v1"
    BINDING: ClassVar[str] = "*.progress"
    ACTION: ClassVar[str] = "progress"

    photo_urls: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _says_something(self) -> ReportProgress:
        if not (self.note or "").strip() and not self.photo_urls:
            raise ValueError("a progress report needs a note or photos")
        return self


class CompleteOrder(OrderReply):
    """The department finished its part: what was done, with photos."""

    TYPE: ClassVar[str] = "org.gridloop.reply.complete.v1"
    BINDING: ClassVar[str] = "*.complete"
    ACTION: ClassVar[str] = "complete"

    result: str = Field(min_length=1)
    photo_urls: tuple[str, ...] = ()


class RequestExtension(OrderReply):
    """The department asks the center for a later complete-by; the center approves or refuses."""

    TYPE: ClassVar[str] = "org.gridloop.reply.request_extension.v1"
    BINDING: ClassVar[str] = "*.request-extension"
    ACTION: ClassVar[str] = "request-extension"

    reason: str = Field(min_length=1)
    proposed_complete_by: UtcDatetime
