"""Duplicate rules: same category, near in space and time, or near-identical chat text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_common.catalogue import CATEGORIES_BY_CODE
from gridloop_common.contracts import GeoPoint
from gridloop_intake.duplicates import (
    RULES,
    OpenReport,
    distance_m,
    duplicate_of,
    normalized_text,
    rule_for,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
HERE = GeoPoint(lat=30.6300, lon=118.9800)
# About 11 m north, and about 111 m north.
NEAR = GeoPoint(lat=30.6301, lon=118.9800)
FAR = GeoPoint(lat=30.6310, lon=118.9800)


def open_report(
    report_id: str,
    *,
    category: str = "road-damage",
    at: datetime = NOW - timedelta(hours=1),
    location: GeoPoint | None = HERE,
    text: str = "路面坑洼",
    grid: str = "g1",
) -> OpenReport:
    return OpenReport(report_id, category, grid, at, text, location)


def test_every_rule_names_a_catalogue_category() -> None:
    assert set(RULES) <= set(CATEGORIES_BY_CODE)


def test_distance_is_metres_on_the_ground() -> None:
    assert 10 < distance_m(HERE, NEAR) < 12
    assert 105 < distance_m(HERE, FAR) < 115


def test_a_near_report_of_the_same_category_within_the_window_is_a_duplicate() -> None:
    found = duplicate_of(
        category_code="road-damage",
        grid_id="g1",
        location=NEAR,
        description="坑",
        reported_at=NOW,
        candidates=[open_report("R-1")],
    )
    assert found is not None
    assert found[0].report_id == "R-1"
    assert "m" in found[1]


def test_too_far_too_old_or_another_category_is_a_new_problem() -> None:
    for candidate in (
        open_report("R-far", location=FAR),
        open_report("R-old", at=NOW - rule_for("road-damage").window - timedelta(minutes=1)),
        open_report("R-other", category="garbage"),
    ):
        assert (
            duplicate_of(
                category_code="road-damage",
                grid_id="g1",
                location=NEAR,
                description="坑",
                reported_at=NOW,
                candidates=[candidate],
            )
            is None
        ), candidate.report_id


def test_thresholds_differ_by_category() -> None:
    # 111 m is a different pothole but the same smell.
    candidate = open_report("R-smell", category="pollution", location=FAR)
    found = duplicate_of(
        category_code="pollution",
        grid_id="g1",
        location=HERE,
        description="异味",
        reported_at=NOW,
        candidates=[candidate],
    )
    assert found is not None


def test_near_identical_chat_text_in_the_same_grid_is_a_duplicate_of_the_earliest() -> None:
    candidates = [
        open_report("R-2", location=None, text="@居民助手 小区门口路灯坏了好几天!", at=NOW),
        open_report(
            "R-1", location=None, text="小区门口路灯坏了好几天", at=NOW - timedelta(hours=2)
        ),
        open_report("R-3", location=None, text="小区门口路灯坏了好几天", grid="g2"),
    ]
    found = duplicate_of(
        category_code="road-damage",
        grid_id="g1",
        location=None,
        description="小区门口的路灯坏了好几天。",
        reported_at=NOW,
        candidates=candidates,
    )
    assert found is not None
    assert found[0].report_id == "R-1"


def test_normalized_text_ignores_spacing_punctuation_and_the_mention() -> None:
    assert normalized_text("@居民助手  路灯，坏了！") == normalized_text("路灯坏了")
