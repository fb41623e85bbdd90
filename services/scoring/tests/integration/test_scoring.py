"""scoring against the real broker and database: events become facts once, figures follow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    SlaBreached,
)
from gridloop_common.messaging import Outgoing, envelope

from .conftest import Scoring

pytestmark = pytest.mark.integration

# 01:00 on 1 November in Shanghai, and 23:00 on 31 October there: one hour and one month apart.
NOVEMBER = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
GRID = "grd-xijin-001-01"


@dataclass(frozen=True)
class Order:
    department: str
    token: str = ""

    def fields(self) -> dict[str, str]:
        token = self.token or "x"
        return {
            "case_id": f"C-{token}",
            "order_id": f"O-{token}",
            "department": self.department,
            "category_code": "road-damage",
            "grid_id": GRID,
        }

    def dispatched(self, at: datetime) -> Outgoing:
        event = CaseDispatched(
            **self.fields(),
            dispatched_at=at,
            accept_by=at + timedelta(hours=8),
            complete_by=at + timedelta(days=3),
        )
        return envelope(event, source="gridloop/dispatch", time=at)

    def accepted(self, at: datetime, handler: str | None = None) -> Outgoing:
        event = CaseAccepted(**self.fields(), accepted_at=at, handler=handler)
        return envelope(event, source="gridloop/dispatch", time=at)

    def completed(self, at: datetime, handler: str | None = None) -> Outgoing:
        event = CaseCompleted(**self.fields(), completed_at=at, handler=handler)
        return envelope(event, source="gridloop/dispatch", time=at)

    def closed(self, at: datetime, *, satisfied: bool) -> Outgoing:
        event = CaseClosed(**self.fields(), closed_at=at, satisfied=satisfied)
        return envelope(event, source="gridloop/dispatch", time=at)

    def breached(self, at: datetime) -> Outgoing:
        fields = self.fields()
        event = SlaBreached(
            order_id=fields["order_id"],
            case_id=fields["case_id"],
            department=self.department,
            clock="accept",
            grid_id=GRID,
            deadline=at - timedelta(minutes=10),
            fired_at=at,
            late_seconds=600.0,
        )
        return envelope(event, source="gridloop/sla-monitor", time=at)


def new_order(department: str) -> Order:
    return Order(department, uuid.uuid4().hex[:8])


def new_department() -> str:
    return f"dept-{uuid.uuid4().hex[:8]}"


async def test_a_redelivered_event_is_counted_once(scoring: Scoring) -> None:
    department = new_department()
    one, two = new_order(department), new_order(department)
    first = one.dispatched(NOVEMBER)
    await scoring.publish(first)
    await scoring.publish(two.dispatched(NOVEMBER))
    # Same envelope, same CloudEvent id: what the outbox relay sends again after a crash.
    await scoring.publish(first)
    await scoring.publish(one.accepted(NOVEMBER + timedelta(hours=1)))
    await scoring.publish(two.breached(NOVEMBER + timedelta(hours=8, minutes=10)))
    await scoring.publish(new_order("someone-else").dispatched(NOVEMBER))
    await scoring.settled(6, CaseDispatched, CaseAccepted, SlaBreached)

    figures = (await scoring.entity("department", department, "2026-11"))["metrics"]
    assert figures["dispatched"] == {"value": 2}
    assert figures["breaches"] == {"value": 1}
    assert figures["acceptance_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert figures["on_time_acceptance_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert figures["median_accept_seconds"] == {"value": 3600.0, "orders": 1}
