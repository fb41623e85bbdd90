"""sla-monitor's events as envelopes, with ids that stay the same however often they are built."""

from __future__ import annotations

from datetime import datetime

from gridloop_common.contracts import SlaEvent, SlaWarning
from gridloop_common.envelope import derived_id
from gridloop_common.messaging import Outgoing, envelope

SOURCE = "gridloop/sla-monitor"


def sla_event_id(timer: str, event: SlaEvent) -> str:
    """Stable per clock, outcome, deadline (and threshold): a recomputed event keeps its id."""
    parts = [timer, event.deadline.isoformat(timespec="milliseconds")]
    if isinstance(event, SlaWarning):
        parts.append(f"{event.threshold:g}")
    return derived_id(f"sla.{event.WHAT}", *parts)


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
        event_id=sla_event_id(timer, event),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
