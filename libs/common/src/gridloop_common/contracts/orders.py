"""Work orders (dispatch → department) and department replies (department → dispatch)."""

from __future__ import annotations

from typing import ClassVar

from gridloop_common.contracts.base import (
    ORDERS_EXCHANGE,
    REPLIES_EXCHANGE,
    Message,
    UtcDatetime,
)
from gridloop_common.contracts.reports import GeoPoint


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
