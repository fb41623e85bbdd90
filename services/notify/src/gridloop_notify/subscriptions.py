"""What notify consumes, in one place."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseFlagged,
    ReporterErased,
    ReportLinked,
    ReportReceived,
    ScoringPeriodClosed,
    SlaBreached,
    SlaWarning,
)
from gridloop_common.messaging import Subscription
from gridloop_notify.handlers import NotifyHandlers


def subscriptions(handlers: NotifyHandlers) -> list[Subscription[Any]]:
    return [
        Subscription(ReportReceived, handlers.on_report_received),
        Subscription(ReportLinked, handlers.on_report_linked),
        Subscription(ReporterErased, handlers.on_reporter_erased),
        Subscription(CaseAccepted, handlers.on_case_accepted),
        Subscription(CaseCompleted, handlers.on_case_completed),
        Subscription(CaseClosed, handlers.on_case_closed),
        Subscription(SlaWarning, handlers.on_sla_warning),
        Subscription(SlaBreached, handlers.on_sla_breached),
        Subscription(CaseFlagged, handlers.on_case_flagged),
        Subscription(ScoringPeriodClosed, handlers.on_period_closed),
    ]
