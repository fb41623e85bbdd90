"""What intake consumes, in one place."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseReopened,
)
from gridloop_common.messaging import Subscription
from gridloop_intake.handlers import CaseStatusHandlers


def subscriptions(handlers: CaseStatusHandlers) -> list[Subscription[Any]]:
    return [
        Subscription(CaseDispatched, handlers.on_dispatched),
        Subscription(CaseAccepted, handlers.on_accepted),
        Subscription(CaseCompleted, handlers.on_completed),
        Subscription(CaseClosed, handlers.on_closed),
        Subscription(CaseReopened, handlers.on_reopened),
    ]
