"""How far a service's events have gone out: a statement others may judge deadlines by."""

from __future__ import annotations

from typing import ClassVar

from gridloop_common.contracts.base import Event, UtcDatetime


class DispatchWatermark(Event):
    """Every case event dispatch stored before `published_until` has been published.

    Sent every second by each dispatch replica (they share one database, so each speaks for
    all). sla-monitor judges no deadline later than the last one heard: an acceptance dispatch
    stored in time but could not publish yet (it crashed, the broker was away) is not taken for
    a breach. Ephemeral: not stored in an outbox, a lost one is replaced a second later.
    """

    TYPE: ClassVar[str] = "org.gridloop.dispatch.watermark.v1"
    BINDING: ClassVar[str] = "dispatch.watermark"

    published_until: UtcDatetime
    replica: str | None = None

    def routing_key(self) -> str:
        return "dispatch.watermark"

    def subject(self) -> str | None:
        return None
