"""Pure: what is known about one work order, folded from its stored facts in any order.

Rates and medians describe the orders dispatched in a period (see figures.py), so they need each
order's whole story: when it was dispatched and accepted, its deadlines, how it ended. The fold
is order-independent (minimum times, latest deadline, any breach), so facts arriving late or
twice give the same record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gridloop_common.periods import month_key
from gridloop_scoring.facts import Fact
from gridloop_scoring.levels import entity_key, handler_id


@dataclass(frozen=True)
class OrderRecord:
    order_id: str
    case_id: str | None
    department: str | None
    category_code: str | None
    grid_id: str | None
    village_id: str | None
    township_id: str | None
    dispatched_at: datetime | None
    accept_by: datetime | None
    # The latest complete-by: an approved extension only ever moves it later.
    complete_by: datetime | None
    accepted_at: datetime | None
    completed_at: datetime | None
    # Whether its completion completed the case: False for a cooperating unit's part of a joint
    # action, on which the reporter gives no verdict (the lead's completion carries it).
    completes_case: bool
    # The reporter's verdict given on this order (the latest, if closed more than once).
    satisfied: bool | None
    handlers: frozenset[str]
    accept_met: bool
    accept_breached: bool
    complete_met: bool
    complete_breached: bool

    @property
    def dispatch_month(self) -> str | None:
        return month_key(self.dispatched_at) if self.dispatched_at else None

    @property
    def accepted_on_time(self) -> bool:
        """sla-monitor's verdict where it gave one (it knows working-hours calendars); else the
        acceptance compared with the accept-by dispatch set."""
        if self.accepted_at is None or self.accept_breached:
            return False
        if self.accept_met:
            return True
        return self.accept_by is not None and self.accepted_at <= self.accept_by

    @property
    def completed_on_time(self) -> bool:
        if self.completed_at is None or self.complete_breached:
            return False
        if self.complete_met:
            return True
        return self.complete_by is not None and self.completed_at <= self.complete_by

    def entities(self) -> list[str]:
        """Who answers for this order: its department, its place, and the people who handled it."""
        keys = []
        if self.department:
            keys.append(entity_key("department", self.department))
            keys += sorted(
                entity_key("handler", handler_id(self.department, h)) for h in self.handlers
            )
        for level, value in (
            ("grid", self.grid_id),
            ("village", self.village_id),
            ("township", self.township_id),
        ):
            if value:
                keys.append(f"{level}:{value}")
        return keys


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


# Where an order lies and whom it concerns: the dispatch names them, other facts fill gaps.
PLACE_FIELDS = ("case_id", "department", "category_code", "grid_id", "village_id", "township_id")


def fold_order(order_id: str, facts: Iterable[Fact]) -> OrderRecord:
    """One order's record from its facts, whatever their order."""
    place: dict[str, str | None] = dict.fromkeys(PLACE_FIELDS)
    dispatched_at = accept_by = complete_by = accepted_at = completed_at = None
    closed: tuple[datetime, bool] | None = None
    completes_case = False
    handlers: set[str] = set()
    verdicts: set[tuple[str, str]] = set()
    # Dispatch first, then by event id: where facts disagree on a field, the same one wins
    # whatever order they arrived in.
    for fact in sorted(facts, key=lambda f: (f.kind != "dispatched", f.event_id)):
        kind = fact.kind
        for name, known in place.items():
            if known is None:
                place[name] = getattr(fact, name)
        if kind == "dispatched":
            dispatched_at = _earliest(dispatched_at, fact.occurred_at)
            accept_by = _latest(accept_by, fact.accept_by)
            complete_by = _latest(complete_by, fact.complete_by)
        elif kind == "extended":
            complete_by = _latest(complete_by, fact.complete_by)
        elif kind == "accepted":
            accepted_at = _earliest(accepted_at, fact.occurred_at)
        elif kind == "completed":
            completed_at = _earliest(completed_at, fact.occurred_at)
            completes_case = completes_case or fact.case_complete is not False
        elif kind == "closed":
            # The latest closing decides; at the same instant a satisfied one wins (max).
            candidate = (fact.occurred_at, bool(fact.satisfied))
            closed = candidate if closed is None else max(closed, candidate)
        elif kind in ("sla_met", "sla_breached", "sla_settled_late") and fact.clock:
            verdicts.add((fact.clock, "met" if kind == "sla_met" else "breached"))
        if kind in ("accepted", "completed") and fact.handler:
            handlers.add(fact.handler)
    return OrderRecord(
        order_id=order_id,
        case_id=place["case_id"],
        department=place["department"],
        category_code=place["category_code"],
        grid_id=place["grid_id"],
        village_id=place["village_id"],
        township_id=place["township_id"],
        dispatched_at=dispatched_at,
        accept_by=accept_by,
        complete_by=complete_by,
        accepted_at=accepted_at,
        completed_at=completed_at,
        completes_case=completes_case,
        satisfied=closed[1] if closed else None,
        handlers=frozenset(handlers),
        accept_met=("accept", "met") in verdicts,
        accept_breached=("accept", "breached") in verdicts,
        complete_met=("complete", "met") in verdicts,
        complete_breached=("complete", "breached") in verdicts,
    )


def fold_orders(facts: Iterable[Fact]) -> dict[str, OrderRecord]:
    """Every order's record from a mixed stream of facts."""
    by_order: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.order_id:
            by_order.setdefault(fact.order_id, []).append(fact)
    return {order_id: fold_order(order_id, items) for order_id, items in by_order.items()}
