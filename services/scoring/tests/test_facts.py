"""A fact records what happened, to whom and when it happened, keyed by the event id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_common.contracts import (
    ALL_MESSAGES,
    CaseAccepted,
    CaseAreaEvent,
    CaseDispatched,
    CaseEvent,
    CaseFlagged,
    CaseRejected,
    CaseResolvedLocally,
    SlaBreached,
    SlaMet,
)
from gridloop_scoring.facts import CASE_FACTS, fact_from_event

HAPPENED = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 November in Shanghai
RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

CASE = {
    "case_id": "C-1",
    "order_id": "O-1",
    "department": "city-mgmt",
    "category_code": "road-damage",
    "grid_id": "g-17",
    "township_id": "t-3",
}


def test_dispatched_fact_occurs_when_dispatched_not_when_received() -> None:
    event = CaseDispatched(
        **CASE,
        dispatched_at=HAPPENED,
        accept_by=HAPPENED + timedelta(hours=8),
        complete_by=HAPPENED + timedelta(days=3),
    )
    fact = fact_from_event(event, "ev-1", RECEIVED)
    assert fact.kind == "dispatched"
    assert fact.occurred_at == HAPPENED
    assert fact.received_at == RECEIVED


def test_fact_document_is_keyed_by_event_id_and_carries_its_periods() -> None:
    event = CaseAccepted(**CASE, accepted_at=HAPPENED)
    document = fact_from_event(event, "ev-2", RECEIVED).to_document()
    assert document == {
        "_id": "ev-2",
        "kind": "accepted",
        "department": "city-mgmt",
        "case_id": "C-1",
        "order_id": "O-1",
        "grid_id": "g-17",
        "township_id": "t-3",
        "category_code": "road-damage",
        "occurred_at": HAPPENED,
        "received_at": RECEIVED,
        "month": "2026-11",
        "quarter": "2026-Q4",
        "year": "2026",
    }


def test_breach_fact_occurs_when_fired_and_names_the_clock() -> None:
    event = SlaBreached(
        order_id="O-1",
        case_id="C-1",
        department="city-mgmt",
        clock="accept",
        deadline=HAPPENED - timedelta(minutes=5),
        fired_at=HAPPENED,
        late_seconds=300.0,
    )
    fact = fact_from_event(event, "ev-3", RECEIVED)
    assert (fact.kind, fact.occurred_at, fact.clock) == ("sla_breached", HAPPENED, "accept")
    # sla-monitor may not know the grid; the fact says so instead of inventing one.
    assert fact.grid_id is None
    assert fact.to_document()["clock"] == "accept"


def test_met_fact_occurs_when_met() -> None:
    event = SlaMet(
        order_id="O-1",
        case_id="C-1",
        department="city-mgmt",
        clock="complete",
        deadline=HAPPENED + timedelta(days=1),
        met_at=HAPPENED,
        category_code="road-damage",
    )
    fact = fact_from_event(event, "ev-4", RECEIVED)
    assert (fact.kind, fact.occurred_at, fact.clock) == ("sla_met", HAPPENED, "complete")
    assert fact.category_code == "road-damage"


def test_every_case_event_dispatch_publishes_becomes_a_fact_when_it_happened() -> None:
    rejected = CaseRejected(**CASE, rejected_at=HAPPENED, reason_code="not-ours")
    flagged = CaseFlagged(**CASE, flagged_at=HAPPENED, bounces=3, threshold=2)
    assert fact_from_event(rejected, "ev-5", RECEIVED).kind == "rejected"
    assert fact_from_event(flagged, "ev-6", RECEIVED).occurred_at == HAPPENED
    assert set(CASE_FACTS) >= {m for m in ALL_MESSAGES if issubclass(m, CaseEvent | CaseAreaEvent)}


def test_a_village_level_event_has_no_department_or_order() -> None:
    event = CaseResolvedLocally(
        case_id="C-1",
        category_code="neighbour-dispute",
        grid_id="g-17",
        township_id="twp-xijin",
        resolved_at=HAPPENED,
        resolution="调解成功",
    )
    fact = fact_from_event(event, "ev-7", RECEIVED)
    assert (fact.kind, fact.department, fact.order_id) == ("resolved_locally", None, None)
    assert fact.township_id == "twp-xijin"
