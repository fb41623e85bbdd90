"""What dispatch consumes, in one place."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import (
    AcceptOrder,
    CompleteOrder,
    RejectOrder,
    ReportProgress,
    ReportReceived,
    RequestExtension,
)
from gridloop_common.messaging import Subscription
from gridloop_dispatch.handlers import DispatchHandlers


def subscriptions(handlers: DispatchHandlers) -> list[Subscription[Any]]:
    return [
        Subscription(ReportReceived, handlers.on_report_received),
        Subscription(AcceptOrder, handlers.on_accept),
        Subscription(RejectOrder, handlers.on_reject),
        Subscription(ReportProgress, handlers.on_progress),
        Subscription(CompleteOrder, handlers.on_complete),
        Subscription(RequestExtension, handlers.on_request_extension),
    ]
