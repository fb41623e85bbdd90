"""A fact records what happened, when, to which order, and whom it is counted for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.contracts import (
    ALL_MESSAGES,
    CaseAccepted,
    CaseAreaEvent,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEvent,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseResolvedLocally,
    ReportReceived,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_scoring.facts import CASE_FACTS, SLA_FACTS, fact_from_event
from gridloop_scoring.repository import fact_document, fact_of

HAPPENED = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 November in Shanghai
RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AREAS = {"g-17": ("v-5", "t-3")}


def area_of(grid_id: str) -> tuple[str | None, str | None]:
    return AREAS.get(grid_id, (None, None))


CASE = {
    "case_id": "C-1",
    "order_id": "O-1",
    "department": "city-mgmt",
    "category_code": "road-damage",
    "grid_id": "g-17",
    "township_id": "t-3",
}
PLACE = ["grid:g-17", "village:v-5", "township:t-3"]
CLOCK = {
    "order_id": "O-1",
    "case_id": "C-1",
    "department": "city-mgmt",
    "clock": "accept",
    "deadline": HAPPENED,
    "grid_id": "g-17",
}


def test_dispatched_fact_occurs_when_dispatched_and_keeps_its_deadlines() -> None:
    event = CaseDispatched(
        **CASE,
        dispatched_at=HAPPENED,
        accept_by=HAPPENED + timedelta(hours=8),
        complete_by=HAPPENED + timedelta(days=3),
    )
    fact = fact_from_event(event, "ev-1", RECEIVED, area_of)
    assert (fact.kind, fact.occurred_at, fact.received_at) == ("dispatched", HAPPENED, RECEIVED)
    assert fact.accept_by == HAPPENED + timedelta(hours=8)
    assert fact.complete_by == HAPPENED + timedelta(days=3)
    # The village is not on the event: the registry fills it in from the grid.
    assert list(fact.entities) == ["department:city-mgmt", *PLACE]


def test_fact_document_is_keyed_by_event_id_and_carries_its_periods() -> None:
    event = CaseAccepted(**CASE, accepted_at=HAPPENED, handler="Wang Lei")
    fact = fact_from_event(event, "ev-2", RECEIVED, area_of)
    document = fact_document(fact)
    assert fact.month == "2026-11"  # Shanghai's month, not UTC's October
    assert document == {
        "_id": "ev-2",
        "kind": "accepted",
        "case_id": "C-1",
        "order_id": "O-1",
        "department": "city-mgmt",
        "grid_id": "g-17",
        "village_id": "v-5",
        "township_id": "t-3",
        "category_code": "road-damage",
        "occurred_at": HAPPENED,
        "received_at": RECEIVED,
        "entities": ["department:city-mgmt", *PLACE, "handler:city-mgmt:Wang Lei"],
        "handler": "Wang Lei",
        "month": "2026-11",
        "quarter": "2026-Q4",
        "year": "2026",
    }
    # Read back (without the period keys, which the rules derive), the same fact.
    assert fact_of({k: v for k, v in document.items() if k not in ("quarter", "year")}) == fact


def test_a_handler_is_counted_within_their_department() -> None:
    event = CaseCompleted(**CASE, completed_at=HAPPENED, handler="Li Na")
    fact = fact_from_event(event, "ev-3", RECEIVED, area_of)
    assert "handler:city-mgmt:Li Na" in fact.entities


def test_an_extension_moves_the_complete_by_and_a_closing_keeps_the_verdict() -> None:
    later = HAPPENED + timedelta(days=5)
    extended = CaseExtended(
        **CASE, extended_at=HAPPENED, previous_complete_by=HAPPENED, complete_by=later
    )
    closed = CaseClosed(**CASE, closed_at=HAPPENED, satisfied=False)
    assert fact_from_event(extended, "e-1", RECEIVED, area_of).complete_by == later
    assert fact_from_event(closed, "e-2", RECEIVED, area_of).satisfied is False


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (SlaBreached(**CLOCK, fired_at=HAPPENED, late_seconds=1.0), "sla_breached"),
        (SlaMet(**CLOCK, met_at=HAPPENED), "sla_met"),
        (SlaWarning(**CLOCK, fired_at=HAPPENED, threshold=0.75), "sla_warning"),
        (SlaSettledLate(**CLOCK, settled_at=HAPPENED, late_seconds=1.0), "sla_settled_late"),
    ],
)
def test_sla_facts_occur_when_they_fired_and_name_the_clock(event: SlaMet, kind: str) -> None:
    fact = fact_from_event(event, "ev-4", RECEIVED, area_of)
    assert (fact.kind, fact.occurred_at, fact.clock) == (kind, HAPPENED, "accept")
    assert list(fact.entities) == ["department:city-mgmt", *PLACE]


def test_an_sla_fact_without_a_grid_is_counted_for_the_department_only() -> None:
    event = SlaBreached(**{**CLOCK, "grid_id": None}, fired_at=HAPPENED, late_seconds=1.0)
    fact = fact_from_event(event, "ev-5", RECEIVED, area_of)
    assert fact.grid_id is None
    assert list(fact.entities) == ["department:city-mgmt"]


def test_every_case_and_sla_event_becomes_a_fact_when_it_happened() -> None:
    rejected = CaseRejected(**CASE, rejected_at=HAPPENED, reason_code="not-ours")
    flagged = CaseFlagged(**CASE, flagged_at=HAPPENED, bounces=3, threshold=2)
    assert fact_from_event(rejected, "ev-5", RECEIVED, area_of).kind == "rejected"
    assert fact_from_event(flagged, "ev-6", RECEIVED, area_of).occurred_at == HAPPENED
    assert set(CASE_FACTS) >= {m for m in ALL_MESSAGES if issubclass(m, CaseEvent | CaseAreaEvent)}
    assert set(SLA_FACTS) == {SlaBreached, SlaMet, SlaWarning, SlaSettledLate}


def test_a_local_resolution_is_the_grid_workers_and_has_no_order() -> None:
    event = CaseResolvedLocally(
        case_id="C-1",
        category_code="neighbour-dispute",
        grid_id="g-17",
        township_id="t-3",
        resolved_at=HAPPENED,
        resolution="调解成功",
        operator="gw-0042",
    )
    fact = fact_from_event(event, "ev-7", RECEIVED, area_of)
    assert (fact.kind, fact.department, fact.order_id) == ("resolved_locally", None, None)
    assert list(fact.entities) == [*PLACE, "grid_worker:gw-0042"]


def report(channel: str, grid_id: str = "g-17") -> ReportReceived:
    return ReportReceived(
        report_id="R-1",
        channel=channel,  # type: ignore[arg-type]
        grid_id=grid_id,
        category_code="road-damage",
        description="pothole",
        reported_at=HAPPENED,
        worker_id="gw-0042",
    )


def test_a_patrol_report_counts_for_its_place_and_its_grid_worker() -> None:
    fact = fact_from_event(report("patrol"), "ev-8", RECEIVED, area_of)
    assert (fact.kind, fact.occurred_at, fact.report_id) == ("reported", HAPPENED, "R-1")
    assert list(fact.entities) == [*PLACE, "grid_worker:gw-0042"]


def test_a_residents_report_is_not_a_grid_workers_and_an_unlocated_one_has_no_place() -> None:
    assert list(fact_from_event(report("chat_group"), "e", RECEIVED, area_of).entities) == PLACE
    assert fact_from_event(report("hotline", "unlocated"), "e", RECEIVED, area_of).entities == ()
