"""What sla-monitor consumes, in one place."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    DispatchWatermark,
)
from gridloop_common.messaging import Subscription
from gridloop_sla_monitor.handlers import ClockHandlers


def subscriptions(handlers: ClockHandlers) -> list[Subscription[Any]]:
    return [
        Subscription(CaseDispatched, handlers.on_dispatched),
        Subscription(CaseAccepted, handlers.on_accepted),
        Subscription(CaseRejected, handlers.on_rejected),
        Subscription(CaseExtended, handlers.on_extended),
        Subscription(CaseCompleted, handlers.on_completed),
        Subscription(CaseClosed, handlers.on_closed),
        Subscription(DispatchWatermark, handlers.on_dispatch_watermark),
    ]
