"""What notify consumes, in one place."""

from __future__ import annotations

from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import Subscription
from gridloop_notify.handlers import ReporterNoticeHandlers


def subscriptions(handlers: ReporterNoticeHandlers) -> list[Subscription]:
    return [Subscription(CaseAccepted, handlers.on_accepted)]
