"""What scoring consumes, in one place."""

from __future__ import annotations

from gridloop_common.contracts import CaseAccepted, CaseDispatched, SlaBreached, SlaMet
from gridloop_common.messaging import Subscription
from gridloop_scoring.handlers import FactHandlers


def subscriptions(handlers: FactHandlers) -> list[Subscription]:
    return [
        Subscription(CaseDispatched, handlers.on_dispatched),
        Subscription(CaseAccepted, handlers.on_accepted),
        Subscription(SlaBreached, handlers.on_sla_breached),
        Subscription(SlaMet, handlers.on_sla_met),
    ]
