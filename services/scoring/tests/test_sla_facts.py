"""sla-monitor's warnings and late settlements become facts like its breaches do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_common.contracts import SlaSettledLate, SlaWarning
from gridloop_scoring.facts import fact_from_event

DEADLINE = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CLOCK = {
    "order_id": "O-1",
    "case_id": "C-1",
    "department": "city-mgmt",
    "clock": "accept",
    "deadline": DEADLINE,
}


def test_a_warning_is_an_sla_warning_fact_when_it_fired() -> None:
    fired = DEADLINE - timedelta(hours=2)
    warning = SlaWarning.model_validate({**CLOCK, "fired_at": fired, "threshold": 0.75})
    fact = fact_from_event(warning, "e-1", RECEIVED)
    assert (fact.kind, fact.clock, fact.occurred_at) == ("sla_warning", "accept", fired)


def test_a_late_acceptance_is_an_sla_settled_late_fact_when_it_came() -> None:
    settled = DEADLINE + timedelta(hours=3)
    late = SlaSettledLate.model_validate({**CLOCK, "settled_at": settled, "late_seconds": 10_800.0})
    fact = fact_from_event(late, "e-2", RECEIVED)
    assert (fact.kind, fact.occurred_at) == ("sla_settled_late", settled)
    # 04:00 on 1 November in Shanghai: a November fact.
    assert fact.to_document()["month"] == "2026-11"
