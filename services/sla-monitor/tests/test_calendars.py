"""Working-hours calendars: adding and counting working time across nights, weekends, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridloop_sla_monitor.calendars import (
    WALL,
    CalendarError,
    Calendars,
    WorkingHours,
    parse_calendars,
    working_hours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 08:30-17:30 Asia/Shanghai, Monday to Friday: 9 working hours a day.
OFFICE = working_hours("city-mgmt", {})
# A lunch break splits the day: 08:30-12:00 and 13:30-17:30, 7.5 hours.
SPLIT = working_hours("housing", {"hours": ["13:30-17:30", "08:30-12:00"]})
HOURS = timedelta(hours=1)


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Shanghai wall time in 2026 (2026-11-02 is a Monday), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_the_default_calendar_is_the_office_week_in_shanghai() -> None:
    assert OFFICE.timezone == SHANGHAI
    assert OFFICE.weekdays == frozenset({1, 2, 3, 4, 5})
    assert OFFICE.name == "working-hours:city-mgmt"


def test_wall_clock_counts_every_second() -> None:
    start = local(7, 23)  # a Saturday night
    assert WALL.add(start, 8 * HOURS) == start + 8 * HOURS
    assert WALL.elapsed(start, start + 8 * HOURS) == 8 * HOURS
    assert WALL.elapsed(start, start - HOURS) == timedelta(0)


def test_eight_working_hours_from_a_monday_morning_end_the_same_afternoon() -> None:
    assert OFFICE.add(local(2, 8, 30), 8 * HOURS) == local(2, 16, 30)


def test_a_window_ending_exactly_at_closing_time_ends_that_day_not_the_next_morning() -> None:
    assert OFFICE.add(local(2, 8, 30), 9 * HOURS) == local(2, 17, 30)
    one_second = timedelta(seconds=1)
    assert OFFICE.add(local(2, 8, 30), 9 * HOURS + one_second) == local(3, 8, 30) + one_second


def test_a_window_started_in_the_afternoon_continues_the_next_working_morning() -> None:
    # 15:00 Tuesday: 2.5 h left that day, 5.5 h on Wednesday.
    assert OFFICE.add(local(3, 15), 8 * HOURS) == local(4, 14)


def test_a_friday_afternoon_order_runs_over_the_weekend_into_monday() -> None:
    # 16:00 Friday 6 Nov: 1.5 h on Friday, nothing on Saturday or Sunday, 6.5 h on Monday.
    assert OFFICE.add(local(6, 16), 8 * HOURS) == local(9, 15)


def test_an_order_dispatched_at_the_weekend_starts_counting_on_monday_morning() -> None:
    assert OFFICE.add(local(7, 10), 8 * HOURS) == local(9, 16, 30)
    assert OFFICE.add(local(8, 23, 59), HOURS) == local(9, 9, 30)


def test_an_order_dispatched_before_opening_starts_counting_at_opening() -> None:
    assert OFFICE.add(local(2, 6), HOURS) == local(2, 9, 30)


def test_an_order_dispatched_after_closing_starts_counting_the_next_working_day() -> None:
    assert OFFICE.add(local(2, 20), HOURS) == local(3, 9, 30)


def test_a_long_window_spans_many_days_and_weekends() -> None:
    # 72 working hours = 8 full office days from Monday 08:30: ends Wednesday of the next week.
    assert OFFICE.add(local(2, 8, 30), 72 * HOURS) == local(11, 17, 30)


def test_the_lunch_break_does_not_count() -> None:
    assert SPLIT.add(local(2, 11), 2 * HOURS) == local(2, 14, 30)
    assert SPLIT.elapsed(local(2, 11), local(2, 14, 30)) == 2 * HOURS
    # Dispatched during lunch: counting starts at 13:30.
    assert SPLIT.add(local(2, 12, 30), HOURS) == local(2, 14, 30)


def test_holidays_do_not_count_and_make_up_working_days_do() -> None:
    calendar = working_hours(
        "water",
        # National Day week 2026: 1-7 October off, Saturday 10 October worked instead.
        {
            "holidays": [f"2026-10-0{d}" for d in range(1, 8)],
            "workdays": ["2026-10-10"],
        },
    )
    # Wednesday 30 September 16:30: 1 h that day, then nothing until Thursday 8 October.
    assert calendar.add(local(30, 16, 30, month=9), 2 * HOURS) == local(8, 9, 30, month=10)
    # Friday 9 October 17:00: 0.5 h, then Saturday 10 October is a working day.
    assert calendar.add(local(9, 17, month=10), HOURS) == local(10, 9, month=10)


def test_elapsed_counts_only_working_time() -> None:
    assert OFFICE.elapsed(local(6, 16), local(9, 15)) == 8 * HOURS
    assert OFFICE.elapsed(local(7, 0), local(8, 23)) == timedelta(0)  # a whole weekend
    assert OFFICE.elapsed(local(2, 9), local(2, 9)) == timedelta(0)
    assert OFFICE.elapsed(local(3, 9), local(2, 9)) == timedelta(0)


@pytest.mark.parametrize(
    "start",
    [local(2, 8, 30), local(3, 15, 17), local(6, 17, 29), local(7, 12), local(9, 0, 1)],
)
@pytest.mark.parametrize("hours", [0.25, 1, 7.5, 8, 9, 24, 72, 360])
def test_adding_then_counting_gives_back_the_same_working_time(
    start: datetime, hours: float
) -> None:
    for calendar in (OFFICE, SPLIT):
        duration = timedelta(hours=hours)
        end = calendar.add(start, duration)
        assert calendar.elapsed(start, end) == duration
        assert end >= start


def test_zero_or_negative_durations_end_where_they_start() -> None:
    assert OFFICE.add(local(7, 10), timedelta(0)) == local(7, 10)
    assert OFFICE.add(local(7, 10), -HOURS) == local(7, 10)


def test_a_calendar_with_no_working_time_fails_loudly_instead_of_looping() -> None:
    mondays = frozenset(local(2, 9).date() + timedelta(weeks=n) for n in range(4 * 53))
    calendar = WorkingHours(
        name="never",
        timezone=SHANGHAI,
        windows=OFFICE.windows,
        weekdays=frozenset({1}),
        holidays=mondays,
    )
    with pytest.raises(CalendarError, match="no working time"):
        calendar.add(local(2, 9), HOURS)


def test_configuration_names_departments_and_a_default_for_the_rest() -> None:
    calendars = parse_calendars(
        '{"city-mgmt": {"hours": ["08:30-17:30"]}, "*": {"hours": ["09:00-17:00"]}}'
    )
    assert calendars.for_department("city-mgmt").name == "working-hours:city-mgmt"
    assert calendars.for_department("water").name == "working-hours:*"
    assert Calendars().for_department("water") is WALL
    assert parse_calendars("").for_department("water") is WALL


def test_a_stored_clock_finds_its_calendar_by_name_and_wall_clock_otherwise() -> None:
    calendars = parse_calendars('{"city-mgmt": {}}')
    assert calendars.named("working-hours:city-mgmt") is calendars.for_department("city-mgmt")
    assert calendars.named("wall-clock") is WALL
    assert calendars.named("working-hours:removed-since") is WALL


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"a": 1}', "must be an object"),
        ('{"a": {"hours": ["17:30-08:30"]}}', "open before it closes"),
        ('{"a": {"hours": ["08:30-12:00", "11:00-17:00"]}}', "overlap"),
        ('{"a": {"hours": ["8.30-17"]}}', "HH:MM"),
        ('{"a": {"hours": []}}', "non-empty"),
        ('{"a": {"days": ["someday"]}}', "day name"),
        ('{"a": {"timezone": "Mars/Olympus"}}', "unknown timezone"),
        ('{"a": {"holidays": ["1 May"]}}', "YYYY-MM-DD"),
        ('{"a": {"hour": ["08:30-17:30"]}}', "unknown keys"),
    ],
)
def test_bad_configuration_says_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(CalendarError, match=complaint):
        parse_calendars(text)
