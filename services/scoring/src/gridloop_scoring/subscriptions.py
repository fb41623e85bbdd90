"""What scoring consumes, in one place: reports, every case event, every SLA event."""

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
    ReportReceived,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.messaging import Subscription
from gridloop_scoring.handlers import FactHandlers

SCORED = (
    ReportReceived,
    CaseDispatched,
    CaseAccepted,
    CaseRejected,
    CaseCompleted,
    CaseClosed,
    CaseExtended,
    CaseReopened,
    CaseFlagged,
    CaseReplyRefused,
    CaseEscalated,
    CaseResolvedLocally,
    SlaBreached,
    SlaMet,
    SlaWarning,
    SlaSettledLate,
)


def subscriptions(handlers: FactHandlers) -> list[Subscription]:
    return [Subscription(message, handlers.record) for message in SCORED]
