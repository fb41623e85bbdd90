"""sla-monitor's events as envelopes, with ids that stay the same however often they are built."""

from __future__ import annotations

from datetime import datetime

from gridloop_common.contracts import SlaEvent
from gridloop_common.envelope import derived_id
from gridloop_common.messaging import Outgoing, envelope

SOURCE = "gridloop/sla-monitor"


def sla_event_id(timer: str, what: str, due_at: datetime) -> str:
    """Stable per clock, outcome and deadline, so a recomputed event is recognisably the same."""
    return derived_id(f"sla.{what}", timer, due_at.isoformat(timespec="milliseconds"))


def sla_outgoing(
    event: SlaEvent,
    timer: str,
    now: datetime,
    *,
    correlation_id: str | None,
    causation_id: str | None = None,
) -> Outgoing:
    return envelope(
        event,
        source=SOURCE,
        time=now,
        event_id=sla_event_id(timer, event.WHAT, event.deadline),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
