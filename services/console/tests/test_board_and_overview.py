"""The board's rows and counts, and the overview's figures: pure views over stored summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gridloop_console.board import BoardFilter, BoardMirror, board_rows, tally
from gridloop_console.case_view import Colour, RunningClock
from gridloop_console.overview import Rate, day_start, month_start, per_hour, sparkline

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def case(
    case_id: str, township: str, *orders: tuple[str, str, bool, list[RunningClock]]
) -> dict[str, Any]:
    return {
        "_id": case_id,
        "township_id": township,
        "grid_id": "g",
        "category_code": "road-damage",
        "open_orders": [
            {
                "order_id": order_id,
                "department": department,
                "accepted": accepted,
                "clocks": [c.to_document() for c in clocks],
            }
            for order_id, department, accepted, clocks in orders
        ],
    }


def accept_clock(deadline_hours: float) -> RunningClock:
    return RunningClock("accept", T0, T0 + timedelta(hours=deadline_hours))


def complete_clock(deadline_hours: float) -> RunningClock:
    return RunningClock("complete", T0, T0 + timedelta(hours=deadline_hours))


CASES = [
    case("C-green", "xijin", ("O-g", "water", False, [accept_clock(8), complete_clock(72)])),
    case("C-late", "hekou", ("O-r", "city-mgmt", False, [accept_clock(2), complete_clock(72)])),
    case("C-later", "xijin", ("O-rr", "city-mgmt", False, [accept_clock(1), complete_clock(72)])),
    case("C-busy", "xijin", ("O-y", "water", True, [complete_clock(4.5)])),
]
NOW = T0 + 4 * HOUR


def test_rows_are_most_overdue_first_then_least_time_left() -> None:
    rows = board_rows(CASES, NOW)
    assert [r.order_id for r in rows] == ["O-rr", "O-r", "O-y", "O-g"]
    assert [r.colour for r in rows] == [Colour.RED, Colour.RED, Colour.YELLOW, Colour.GREEN]
    assert rows[0].overdue_seconds == 3 * 3600


def test_a_row_names_its_most_urgent_running_clock() -> None:
    [late] = [r for r in board_rows(CASES, NOW) if r.order_id == "O-r"]
    assert (late.clock, late.deadline) == ("accept", T0 + 2 * HOUR)


def test_filtering_by_clock_judges_the_colour_by_that_clock_alone() -> None:
    rows = board_rows(CASES, NOW, BoardFilter(clock="complete"))
    assert {r.order_id: r.colour for r in rows} == {
        "O-y": Colour.YELLOW,
        "O-r": Colour.GREEN,
        "O-rr": Colour.GREEN,
        "O-g": Colour.GREEN,
    }


def test_filters_by_township_department_and_colour() -> None:
    assert [r.order_id for r in board_rows(CASES, NOW, BoardFilter(township_id="hekou"))] == ["O-r"]
    assert {r.order_id for r in board_rows(CASES, NOW, BoardFilter(department="water"))} == {
        "O-y",
        "O-g",
    }
    assert {r.order_id for r in board_rows(CASES, NOW, BoardFilter(colour="red"))} == {
        "O-r",
        "O-rr",
    }


def test_the_tally_counts_colours_per_township_and_department_worst_first() -> None:
    counts = tally(board_rows(CASES, NOW))
    assert counts.totals == {Colour.RED: 2, Colour.YELLOW: 1, Colour.GREEN: 1}
    assert counts.cells["xijin"]["water"] == {Colour.YELLOW: 1, Colour.GREEN: 1}
    assert counts.townships()[0] == "xijin"  # one red and one yellow beat one red
    assert counts.departments() == ["city-mgmt", "water"]


def test_a_day_and_a_month_begin_at_midnight_in_the_city() -> None:
    late_evening_utc = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 01:30 on 12-01 in Ningguo
    assert day_start(late_evening_utc).isoformat() == "2026-12-01T00:00:00+08:00"
    assert month_start(late_evening_utc).isoformat() == "2026-12-01T00:00:00+08:00"


def test_reports_per_hour_puts_the_newest_hour_last() -> None:
    times = [
        NOW - timedelta(minutes=10),
        NOW - timedelta(minutes=50),
        NOW - 5 * HOUR,
        NOW - 30 * HOUR,
    ]
    counts = per_hour(times, NOW)
    assert len(counts) == 24
    assert counts[-1] == 2
    assert counts[-6] == 1
    assert sum(counts) == 3


def test_a_sparkline_spans_its_box() -> None:
    points = [tuple(map(float, p.split(","))) for p in sparkline([0, 5, 10], 100, 20).split()]
    assert [x for x, _ in points] == [0.0, 50.0, 100.0]
    assert points[2][1] < points[1][1] < points[0][1]  # the highest count is drawn on top


def test_a_rate_over_nothing_has_no_value() -> None:
    assert Rate(0, 0).value is None
    assert Rate(3, 4).value == 0.75


def test_the_mirror_keeps_the_newest_version_and_forgets_a_closed_case() -> None:
    mirror = BoardMirror()
    mirror.apply(
        [{"_id": "C-1", "version": 2, "open": True}, {"_id": "C-2", "version": 1, "open": True}]
    )
    # An older state read late changes nothing; a tombstone removes its case.
    mirror.apply([{"_id": "C-1", "version": 1, "open": True, "stale": True}])
    mirror.apply(
        [{"_id": "C-2", "version": 2, "open": False}, {"_id": "C-3", "version": 4, "open": False}]
    )
    assert mirror.cases() == [{"_id": "C-1", "version": 2, "open": True}]
