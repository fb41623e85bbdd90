"""What scoring consumes, in one place."""

from __future__ import annotations

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseReplyRefused,
    CaseResolvedLocally,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.messaging import Subscription
from gridloop_scoring.handlers import FactHandlers


def subscriptions(handlers: FactHandlers) -> list[Subscription]:
    return [
        Subscription(CaseDispatched, handlers.on_dispatched),
        Subscription(CaseAccepted, handlers.on_accepted),
        Subscription(CaseRejected, handlers.on_rejected),
        Subscription(CaseCompleted, handlers.on_completed),
        Subscription(CaseClosed, handlers.on_closed),
        Subscription(CaseExtended, handlers.on_extended),
        Subscription(CaseReopened, handlers.on_reopened),
        Subscription(CaseFlagged, handlers.on_flagged),
        Subscription(CaseReplyRefused, handlers.on_reply_refused),
        Subscription(CaseEscalated, handlers.on_escalated),
        Subscription(CaseResolvedLocally, handlers.on_resolved_locally),
        Subscription(SlaBreached, handlers.on_sla_breached),
        Subscription(SlaMet, handlers.on_sla_met),
        Subscription(SlaWarning, handlers.on_sla_warning),
        Subscription(SlaSettledLate, handlers.on_sla_settled_late),
    ]
