"""Pure report rules: validation of the native body, the event and document built from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gridloop_intake.reports import NewReport, report_document, report_event

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_a_valid_submission_becomes_an_event_and_a_document_with_the_same_facts() -> None:
    submission = NewReport(
        grid_id="g1",
        category_code="road-damage",
        description="路面坑洼",
        location={"lat": 30.63, "lon": 118.98},  # type: ignore[arg-type]
    )
    event = report_event("R-1", submission, NOW)
    assert event.routing_key() == "report.received.native"
    document = report_document(event)
    assert document["_id"] == "R-1"
    assert document["status"] == "received"
    assert document["reported_at"] == NOW
    assert document["location"] == {"lat": 30.63, "lon": 118.98}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grid_id": "g1", "category_code": "Road Damage", "description": "x"}, "category_code"),
        ({"grid_id": "", "category_code": "road-damage", "description": "x"}, "grid_id"),
        ({"grid_id": "g1", "category_code": "road-damage", "description": ""}, "description"),
        ({"grid_id": "g1", "category_code": "road-damage"}, "description"),
        (
            {"grid_id": "g1", "category_code": "road-damage", "description": "x", "extra": 1},
            "extra",
        ),
    ],
)
def test_invalid_submissions_name_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        NewReport.model_validate(body)
    assert field in {str(error["loc"][0]) for error in raised.value.errors()}
