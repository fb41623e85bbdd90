"""Event and message contracts shared by every service; a registry maps CloudEvent types to them."""

from __future__ import annotations

from gridloop_common.contracts.base import (
    EVENTS_EXCHANGE,
    ORDERS_EXCHANGE,
    REPLIES_EXCHANGE,
    Event,
    Message,
)
from gridloop_common.contracts.cases import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEvent,
    CaseRejected,
)
from gridloop_common.contracts.orders import AcceptOrder, OrderReply, WorkOrder
from gridloop_common.contracts.reports import (
    UNLOCATED,
    GeoPoint,
    ReplyAddress,
    ReportLinked,
    ReportReceived,
)
from gridloop_common.contracts.sla import SlaBreached, SlaEvent, SlaMet, SlaWarning

ALL_MESSAGES: tuple[type[Message], ...] = (
    ReportReceived,
    ReportLinked,
    CaseDispatched,
    CaseAccepted,
    CaseRejected,
    CaseCompleted,
    CaseClosed,
    SlaWarning,
    SlaBreached,
    SlaMet,
    WorkOrder,
    AcceptOrder,
)
BY_TYPE: dict[str, type[Message]] = {message.TYPE: message for message in ALL_MESSAGES}

__all__ = [
    "ALL_MESSAGES",
    "BY_TYPE",
    "EVENTS_EXCHANGE",
    "ORDERS_EXCHANGE",
    "REPLIES_EXCHANGE",
    "UNLOCATED",
    "AcceptOrder",
    "CaseAccepted",
    "CaseClosed",
    "CaseCompleted",
    "CaseDispatched",
    "CaseEvent",
    "CaseRejected",
    "Event",
    "GeoPoint",
    "Message",
    "OrderReply",
    "ReplyAddress",
    "ReportLinked",
    "ReportReceived",
    "SlaBreached",
    "SlaEvent",
    "SlaMet",
    "SlaWarning",
    "WorkOrder",
]
