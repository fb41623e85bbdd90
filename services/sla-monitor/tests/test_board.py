"""The board (colours per department and township, most overdue first), rates and periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.periods import InvalidPeriod, parse_period, period_keys
from gridloop_sla_monitor.board import (
    OpenClock,
    VerdictRow,
    board,
    order_statuses,
    rates,
)
from gridloop_sla_monitor.calendars import WALL, Calendars
from gridloop_sla_monitor.clocks import Colour, TimerState, Verdict, marks_for

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def open_clock(
    order: str,
    *,
    due_in: timedelta,
    window: timedelta = 8 * HOUR,
    clock: str = "accept",
    department: str = "city-mgmt",
    township: str | None = "xijin",
    state: TimerState = TimerState.RUNNING,
) -> OpenClock:
    due = NOW + due_in
    started = due - window
    return OpenClock(
        order_id=order,
        case_id=f"case-{order}",
        department=department,
        township_id=township,
        clock=clock,
        state=state,
        started_at=started,
        due_at=due,
        marks=marks_for(started, due, (0.75,), WALL),
        calendar="wall-clock",
    )


CLOCKS = [
    open_clock("green", due_in=7 * HOUR),
    open_clock("yellow", due_in=HOUR),
    open_clock("red-1h", due_in=-HOUR, state=TimerState.BREACHED),
    open_clock("red-5h", due_in=-5 * HOUR, department="water", township=None),
    # One order, two open clocks: the accept clock breached, the complete clock still green.
    open_clock("two-clocks", due_in=-2 * HOUR, state=TimerState.BREACHED),
    open_clock("two-clocks", due_in=60 * HOUR, window=72 * HOUR, clock="complete"),
]


def test_an_order_takes_the_colour_of_its_worst_open_clock_and_most_overdue_comes_first() -> None:
    statuses = order_statuses(CLOCKS, NOW, Calendars())
    assert [s.order_id for s in statuses] == ["red-5h", "two-clocks", "red-1h", "yellow", "green"]
    assert [s.colour for s in statuses] == [
        Colour.RED,
        Colour.RED,
        Colour.RED,
        Colour.YELLOW,
        Colour.GREEN,
    ]
    two = statuses[1]
    assert two.overdue_seconds == 7200
    assert [(c.clock, c.colour) for c in two.clocks] == [
        ("accept", Colour.RED),
        ("complete", Colour.GREEN),
    ]


def test_the_board_counts_orders_by_colour_per_department_and_per_township() -> None:
    view = board(order_statuses(CLOCKS, NOW, Calendars()), NOW, limit=2)
    assert view["totals"] == {"green": 1, "yellow": 1, "red": 3, "open": 5}
    [city, water] = view["departments"]
    assert (city["department"], city["red"], city["yellow"], city["green"]) == (
        "city-mgmt",
        2,
        1,
        1,
    )
    assert [o["order_id"] for o in city["orders"]] == ["two-clocks", "red-1h"]  # limit 2
    assert water["department"] == "water" and water["red"] == 1
    townships = {row["township_id"]: row for row in view["townships"]}
    assert townships["unlocated"]["red"] == 1
    assert townships["xijin"]["open"] == 4
    assert [o["order_id"] for o in view["most_overdue"]] == ["red-5h", "two-clocks"]


def test_an_empty_board_is_all_zero() -> None:
    view = board([], NOW, limit=5)
    assert view["totals"] == {"green": 0, "yellow": 0, "red": 0, "open": 0}
    assert view["departments"] == [] and view["townships"] == []


def test_rates_are_on_time_over_decided_per_clock_and_department() -> None:
    rows = (
        [VerdictRow("accept", Verdict.MET, "city-mgmt")] * 999
        + [VerdictRow("accept", Verdict.LATE, "city-mgmt")]
        + [VerdictRow("complete", Verdict.MET, "water")] * 3
        + [VerdictRow("complete", Verdict.LATE, "water")]
    )
    view = rates(rows)
    assert view["overall"]["acceptance"] == {"on_time": 999, "late": 1, "rate": 0.999}
    assert view["overall"]["completion"] == {"on_time": 3, "late": 1, "rate": 0.75}
    [city, water] = view["departments"]
    assert city["department"] == "city-mgmt"
    assert city["completion"] == {"on_time": 0, "late": 0, "rate": None}
    assert water["completion"]["rate"] == 0.75


def test_period_keys_follow_the_shanghai_calendar() -> None:
    # 31 Dec 2026 17:00 UTC is already 1 Jan 2027 in Shanghai.
    assert list(period_keys(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)).values()) == [
        "2027-01",
        "2027-Q1",
        "2027",
    ]
    assert list(period_keys(datetime(2026, 11, 26, 8, 0, tzinfo=UTC)).values()) == [
        "2026-11",
        "2026-Q4",
        "2026",
    ]


@pytest.mark.parametrize("text", ["2026-11", "2026-Q4", "2026"])
def test_periods_in_the_formats_scoring_uses(text: str) -> None:
    assert parse_period(text).key == text


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "2026-11-01", "Q4", "٢٠٢٦", ""])
def test_other_period_texts_are_refused(text: str) -> None:
    with pytest.raises(InvalidPeriod, match="YYYY-MM, YYYY-Qn, YYYY"):
        parse_period(text)
