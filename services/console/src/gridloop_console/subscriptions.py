"""What the console consumes, in one place: reports, and every event of a case's timeline."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import ReportReceived
from gridloop_common.messaging import Subscription
from gridloop_console.handlers import ConsoleHandlers
from gridloop_console.timeline import TIMELINE_EVENTS


def subscriptions(handlers: ConsoleHandlers) -> list[Subscription[Any]]:
    return [
        Subscription(ReportReceived, handlers.on_report),
        *(Subscription(event, handlers.on_case_event) for event in TIMELINE_EVENTS),
    ]
