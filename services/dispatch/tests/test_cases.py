"""Pure case rules: routing, ids, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_common.contracts import CaseDispatched, ReportReceived, WorkOrder
from gridloop_dispatch.cases import case_id_for, open_case, order_id_for
from gridloop_dispatch.routing import route

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EIGHT_HOURS = timedelta(hours=8)


def a_report(category: str = "road-damage", report_id: str = "R-1") -> ReportReceived:
    return ReportReceived(
        report_id=report_id,
        channel="native",
        grid_id="g1",
        category_code=category,
        description="路面坑洼",
        reported_at=NOW,
    )


def test_a_routed_category_opens_a_dispatched_case_with_one_order_and_its_events() -> None:
    opened = open_case(a_report(), NOW, EIGHT_HOURS)
    assert opened.document["status"] == "dispatched"
    [order] = opened.document["orders"]
    assert order["department"] == "city-mgmt"
    assert order["accept_by"] == NOW + EIGHT_HOURS
    assert order["complete_by"] == NOW + timedelta(hours=72)
    kinds = [type(message) for _, message in opened.messages]
    assert kinds == [WorkOrder, CaseDispatched]
    work_order = opened.messages[0][1]
    assert isinstance(work_order, WorkOrder)
    assert work_order.routing_key() == "city-mgmt"


def test_an_unknown_category_waits_for_triage_and_publishes_nothing() -> None:
    opened = open_case(a_report("no-such-thing"), NOW, EIGHT_HOURS)
    assert opened.document["status"] == "awaiting_triage"
    assert opened.document["orders"] == []
    assert opened.messages == []


def test_ids_are_derived_so_a_redelivered_report_maps_to_the_same_case_and_messages() -> None:
    first = open_case(a_report(), NOW, EIGHT_HOURS)
    again = open_case(a_report(), NOW + timedelta(seconds=5), EIGHT_HOURS)
    assert first.document["_id"] == again.document["_id"] == case_id_for("R-1")
    assert [mid for mid, _ in first.messages] == [mid for mid, _ in again.messages]
    assert case_id_for("R-1") != case_id_for("R-2")
    assert order_id_for("C-1", "water", 1) != order_id_for("C-1", "water", 2)


def test_route_names_the_catalogue_department() -> None:
    found = route("flooding")
    assert found is not None
    assert found.department == "water"
    assert route("unclassified") is None
