"""SLA clock events published by sla-monitor (routing key `sla.<what>.<clock>.<department>`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gridloop_common.contracts.base import Event, UtcDatetime

ClockName = Literal["accept", "complete"]


class SlaEvent(Event):
    """One clock of one work order: accept-by belongs to the order, complete-by to its share of
    the case (it carries over a re-dispatch, so `order_id` is the order holding it now)."""

    order_id: str
    case_id: str
    department: str
    clock: ClockName
    deadline: UtcDatetime
    category_code: str | None = None
    grid_id: str | None = None
    township_id: str | None = None
    # When the window began (the dispatch), and which time counts towards it: "wall-clock", or
    # "working-hours:<key>" when a department's working-hours calendar applies.
    started_at: UtcDatetime | None = None
    calendar: str | None = None
    # sole, lead or cooperating (a joint action has clocks per unit).
    role: str | None = None

    WHAT: ClassVar[str]

    def routing_key(self) -> str:
        return f"sla.{self.WHAT}.{self.clock}.{self.department}"


class SlaWarning(SlaEvent):
    """A clock crossed a warning threshold (yellow): `threshold` of its window has passed."""

    TYPE: ClassVar[str] = "org.gridloop.sla.warning.v1"
    BINDING: ClassVar[str] = "sla.warning.#"
    WHAT: ClassVar[str] = "warning"

    fired_at: UtcDatetime
    threshold: float
    # When the threshold was crossed, how long after that the warning left, and the wall-clock
    # seconds then left until the deadline.
    threshold_at: UtcDatetime | None = None
    late_seconds: float | None = None
    remaining_seconds: float | None = None


class SlaBreached(SlaEvent):
    """A clock passed its deadline with the order not accepted/completed (red)."""

    TYPE: ClassVar[str] = "org.gridloop.sla.breached.v1"
    BINDING: ClassVar[str] = "sla.breached.#"
    WHAT: ClassVar[str] = "breached"

    fired_at: UtcDatetime
    late_seconds: float


class SlaMet(SlaEvent):
    """The order was accepted/completed by the deadline."""

    TYPE: ClassVar[str] = "org.gridloop.sla.met.v1"
    BINDING: ClassVar[str] = "sla.met.#"
    WHAT: ClassVar[str] = "met"

    met_at: UtcDatetime


class SlaSettledLate(SlaEvent):
    """A breached clock finally stopped: the order was accepted/completed after its deadline.

    Follows the clock's one `sla.breached`; `late_seconds` is how late the acceptance or
    completion came (the breach said how late the clock was when it was announced).
    """

    TYPE: ClassVar[str] = "org.gridloop.sla.settled_late.v1"
    BINDING: ClassVar[str] = "sla.settled_late.#"
    WHAT: ClassVar[str] = "settled_late"

    settled_at: UtcDatetime
    late_seconds: float
    # When the breach was announced.
    breached_at: UtcDatetime | None = None
