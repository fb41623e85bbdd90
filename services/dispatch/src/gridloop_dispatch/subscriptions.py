"""What dispatch consumes, in one place."""

from __future__ import annotations

from gridloop_common.contracts import AcceptOrder, ReportReceived
from gridloop_common.messaging import Subscription
from gridloop_dispatch.handlers import DispatchHandlers


def subscriptions(handlers: DispatchHandlers) -> list[Subscription]:
    return [
        Subscription(ReportReceived, handlers.on_report_received),
        Subscription(AcceptOrder, handlers.on_accept),
    ]
