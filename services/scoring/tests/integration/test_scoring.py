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


async def test_counts_follow_the_shanghai_month_in_which_things_happened(
    scoring: Scoring,
) -> None:
    department = new_department()
    november, october = new_order(department), new_order(department)
    # Published late and out of order: the accept before its dispatch, October after November.
    await scoring.publish(november.accepted(NOVEMBER + timedelta(hours=2), handler="Wang"))
    await scoring.publish(november.dispatched(NOVEMBER))
    await scoring.publish(october.dispatched(OCTOBER))
    await scoring.settled(3, CaseDispatched, CaseAccepted)

    nov = (await scoring.entity("department", department, "2026-11"))["metrics"]
    oct_ = (await scoring.entity("department", department, "2026-10"))["metrics"]
    quarter = (await scoring.entity("department", department, "2026-Q4"))["metrics"]
    assert (nov["dispatched"]["value"], oct_["dispatched"]["value"]) == (1, 1)
    assert nov["acceptance_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert oct_["acceptance_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert quarter["dispatched"]["value"] == 2
    assert quarter["acceptance_rate"]["numerator"] == 1
    handler = await scoring.entity("handler", f"{department}:Wang", "2026-11")
    assert handler["metrics"]["median_accept_seconds"] == {"value": 7200.0, "orders": 1}
    # The place comes from the registry: the grid's village and township have the order too.
    township = await scoring.entity("township", "twp-xijin", "2026-Q4")
    assert township["metrics"]["dispatched"]["value"] >= 2
    trend = (await scoring.entity("department", department, "2026-11"))["trend"]
    assert [t["period"] for t in trend][-3:] == ["2026-09", "2026-10", "2026-11"]
    assert len(trend) == 12


async def test_rankings_share_ranks_on_ties_and_export_as_csv(scoring: Scoring) -> None:
    departments = [new_department() for _ in range(3)]
    handled = dict(zip(departments, (2, 1, 2), strict=True))
    published = 0
    for department, count in handled.items():
        for _ in range(count):
            order = new_order(department)
            await scoring.publish(order.dispatched(NOVEMBER))
            await scoring.publish(order.completed(NOVEMBER + timedelta(days=1)))
            published += 2
    await scoring.settled(published, CaseDispatched, CaseCompleted)

    ranking = await scoring.get(
        "/v1/rankings", period="2026-11", level="department", metric="handled"
    )
    ours = [e for e in ranking["entries"] if e["entity_id"] in handled]
    first, second, third = sorted(departments, key=lambda d: (-handled[d], d))
    assert [(e["entity_id"], e["rank"], e["value"]) for e in ours] == [
        (first, 1, 2),
        (second, 1, 2),
        (third, 3, 1),
    ]
    response = await scoring.http.get(
        "/v1/rankings",
        params={"period": "2026-11", "level": "department", "metric": "completion_rate"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "rank,entity_id,value,numerator,denominator,orders"
    # Nothing was accepted: no denominator, so listed without a rank.
    assert f",{first},,0,0," in response.text


ALLOWED = "allowed_values"


def ranking(period: str, level: str, metric: str) -> dict[str, str]:
    return {"period": period, "level": level, "metric": metric}


@pytest.mark.parametrize(
    ("path", "params", "code", "allowed"),
    [
        ("/v1/rankings", ranking("2026-13", "grid", "handled"), "invalid_period", None),
        ("/v1/rankings", ranking("2026-11", "street", "handled"), "invalid_level", ALLOWED),
        ("/v1/rankings", ranking("2026-11", "department", "reported"), "invalid_metric", ALLOWED),
        ("/v1/grades", {"period": "2026-11", "level": "grid"}, "invalid_period", None),
        ("/v1/entities/planet/earth", {"period": "2026-11"}, "invalid_level", ALLOWED),
    ],
)  # fmt: skip
async def test_unknown_period_level_or_metric_is_refused_naming_what_is_allowed(
    scoring: Scoring, path: str, params: dict[str, str], code: str, allowed: str | None
) -> None:
    response = await scoring.http.get(path, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == code
    assert body["parameter"] in params or body["parameter"] == "level"
    if allowed is None:
        assert body["expected_formats"]
    elif code == "invalid_level":
        assert body[allowed] == [
            "grid_worker",
            "handler",
            "department",
            "township",
            "village",
            "grid",
        ]
    else:
        assert "handled" in body[allowed] and "reported" not in body[allowed]
