"""What scoring consumes, in one place: reports, every case event, every SLA event."""

from __future__ import annotations

from typing import Any

from gridloop_common.contracts import Message, ReportReceived
from gridloop_common.messaging import Subscription
from gridloop_scoring.facts import CASE_FACTS, SLA_FACTS
from gridloop_scoring.handlers import FactHandlers

# Exactly the events the fact rules know how to turn into facts (one list to keep up to date).
SCORED: tuple[type[Message], ...] = (ReportReceived, *CASE_FACTS, *SLA_FACTS)


def subscriptions(handlers: FactHandlers) -> list[Subscription[Any]]:
    return [Subscription(message, handlers.record) for message in SCORED]
