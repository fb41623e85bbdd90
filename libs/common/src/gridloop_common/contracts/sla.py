"""SLA clock events published by sla-monitor (routing key `sla.<what>.<clock>.<department>`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gridloop_common.contracts.base import Event, UtcDatetime

ClockName = Literal["accept", "complete"]


class SlaEvent(Event):
    order_id: str
    case_id: str
    department: str
    clock: ClockName
    deadline: UtcDatetime
    category_code: str | None = None
    grid_id: str | None = None
    township_id: str | None = None

    WHAT: ClassVar[str]

    def routing_key(self) -> str:
        return f"sla.{self.WHAT}.{self.clock}.{self.department}"


class SlaWarning(SlaEvent):
    TYPE: ClassVar[str] = "org.gridloop.sla.warning.v1"
    BINDING: ClassVar[str] = "sla.warning.#"
    WHAT: ClassVar[str] = "warning"

    fired_at: UtcDatetime
    threshold: float


class SlaBreached(SlaEvent):
    TYPE: ClassVar[str] = "org.gridloop.sla.breached.v1"
    BINDING: ClassVar[str] = "sla.breached.#"
    WHAT: ClassVar[str] = "breached"

    fired_at: UtcDatetime
    late_seconds: float


class SlaMet(SlaEvent):
    TYPE: ClassVar[str] = "org.gridloop.sla.met.v1"
    BINDING: ClassVar[str] = "sla.met.#"
    WHAT: ClassVar[str] = "met"

    met_at: UtcDatetime
