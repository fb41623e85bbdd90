"""Pure alerting rules: what a subscription may ask for and which events and notices it hears."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gridloop_common.contracts import CaseFlagged, SlaBreached, SlaWarning

AlertEvent = Literal["sla.warning", "sla.breached", "case.flagged"]
ALERT_EVENTS: tuple[AlertEvent, ...] = ("sla.warning", "sla.breached", "case.flagged")
# Subscribing to "notice" makes an e-mail or webhook endpoint a recipient of broadcasts and
# commendations (the `email` and `webhook` channels of POST /v1/notices).
NOTICE_EVENT = "notice"
SUBSCRIBABLE = (*ALERT_EVENTS, NOTICE_EVENT)
Colour = Literal["yellow", "red"]
COLOURS: tuple[Colour, ...] = ("yellow", "red")

# Which filter applies to which event: a filter on a fact an event does not carry could never
# match it, so such a subscription is refused rather than silently deaf.
_FACTS_OF: dict[str, frozenset[str]] = {
    "sla.warning": frozenset({"departments", "township_ids", "category_codes", "colours"}),
    "sla.breached": frozenset({"departments", "township_ids", "category_codes", "colours"}),
    "case.flagged": frozenset({"departments", "township_ids", "category_codes"}),
    NOTICE_EVENT: frozenset({"township_ids"}),
}


@dataclass(frozen=True)
class Filters:
    """Empty means any; a non-empty filter must contain the event's value."""

    departments: frozenset[str] = frozenset()
    township_ids: frozenset[str] = frozenset()
    category_codes: frozenset[str] = frozenset()
    colours: frozenset[str] = frozenset()

    def used(self) -> frozenset[str]:
        return frozenset(name for name, values in self.as_document().items() if values)

    def as_document(self) -> dict[str, list[str]]:
        return {
            "departments": sorted(self.departments),
            "township_ids": sorted(self.township_ids),
            "category_codes": sorted(self.category_codes),
            "colours": sorted(self.colours),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Iterable[str]] | None) -> Filters:
        document = document or {}
        return cls(
            departments=frozenset(document.get("departments", ())),
            township_ids=frozenset(document.get("township_ids", ())),
            category_codes=frozenset(document.get("category_codes", ())),
            colours=frozenset(document.get("colours", ())),
        )


EndpointKind = Literal["webhook", "email"]


@dataclass(frozen=True)
class Subscription:
    """Who hears which alerts (and notices), and where: a signed webhook or an e-mail address."""

    subscription_id: str
    name: str
    events: tuple[str, ...]
    filters: Filters
    endpoint_kind: EndpointKind
    # The webhook's URL, or the e-mail address.
    address: str
    created_at: datetime
    # Signs every webhook delivery; returned once, in the answer that created the subscription,
    # and only when notify made it up (`secret_generated`).
    secret: str = ""
    secret_generated: bool = False
    # The request that created it: a retry under its Idempotency-Key must carry the same.
    request_fingerprint: str | None = None


@dataclass(frozen=True)
class AlertFacts:
    """What a subscription's filters are matched against."""

    event: AlertEvent
    department: str
    township_id: str | None
    category_code: str | None
    colour: Colour | None


def inapplicable_filters(events: Iterable[str], filters: Filters) -> dict[str, list[str]]:
    """Per event, the filters set that it cannot match: each must be empty to subscribe."""
    used = filters.used()
    return {event: sorted(used - _FACTS_OF[event]) for event in events if used - _FACTS_OF[event]}


def matches(filters: Filters, facts: AlertFacts) -> bool:
    return (
        _admits(filters.departments, facts.department)
        and _admits(filters.township_ids, facts.township_id)
        and _admits(filters.category_codes, facts.category_code)
        and _admits(filters.colours, facts.colour)
    )


def hears_notice(filters: Filters, audience_townships: frozenset[str] | None) -> bool:
    """A notice to the city reaches every notice subscriber; one to an area, those whose
    township filter (if any) shares a township with it."""
    if not filters.township_ids or audience_townships is None:
        return True
    return bool(filters.township_ids & audience_townships)


def _admits(allowed: frozenset[str], value: str | None) -> bool:
    return not allowed or (value is not None and value in allowed)


def warning_facts(event: SlaWarning) -> AlertFacts:
    return AlertFacts(
        "sla.warning", event.department, event.township_id, event.category_code, "yellow"
    )


def breach_facts(event: SlaBreached) -> AlertFacts:
    return AlertFacts(
        "sla.breached", event.department, event.township_id, event.category_code, "red"
    )


def flagged_facts(event: CaseFlagged) -> AlertFacts:
    # A flag is about hand-offs, not a clock: it has no colour.
    return AlertFacts(
        "case.flagged", event.department, event.township_id, event.category_code, None
    )


def alert_data(event: SlaWarning | SlaBreached | CaseFlagged) -> dict[str, Any]:
    """The machine-readable part of an alert: the order, its department, deadline, lateness."""
    data: dict[str, Any] = {
        "case_id": event.case_id,
        "order_id": event.order_id,
        "department": event.department,
        "category_code": event.category_code,
        "township_id": event.township_id,
        "grid_id": event.grid_id,
    }
    if isinstance(event, CaseFlagged):
        data.update(
            event="case.flagged",
            flagged_at=event.flagged_at.isoformat(),
            bounces=event.bounces,
            threshold=event.threshold,
            deadline=None,
            late_seconds=None,
        )
        return data
    late = (event.fired_at - event.deadline).total_seconds()
    if isinstance(event, SlaBreached):
        late = event.late_seconds
    data.update(
        event="sla.breached" if isinstance(event, SlaBreached) else "sla.warning",
        clock=event.clock,
        deadline=event.deadline.isoformat(),
        fired_at=event.fired_at.isoformat(),
        # Negative before the deadline: a warning says how much time is left.
        late_seconds=round(late, 3),
        colour="red" if isinstance(event, SlaBreached) else "yellow",
    )
    if isinstance(event, SlaWarning):
        data["threshold"] = event.threshold
    return data
