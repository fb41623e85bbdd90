"""Period keys follow the Asia/Shanghai calendar; period parsing accepts only the three formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gridloop_common.periods import (
    GRANULARITIES,
    Granularity,
    InvalidPeriod,
    Period,
    month_key,
    months_of,
    parent_periods,
    parse_period,
    period_end,
    period_key,
    period_keys,
    quarter_key,
    trailing_periods,
    year_key,
)

SHANGHAI_MIDNIGHT_1_NOV = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


def test_a_utc_evening_on_the_last_of_october_is_november_in_shanghai() -> None:
    assert month_key(SHANGHAI_MIDNIGHT_1_NOV) == "2026-11"
    assert month_key(SHANGHAI_MIDNIGHT_1_NOV - timedelta(seconds=1)) == "2026-10"


def test_new_years_eve_in_utc_is_already_next_year_in_shanghai() -> None:
    when = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert period_keys(when) == {"month": "2027-01", "quarter": "2027-Q1", "year": "2027"}
    assert year_key(when - timedelta(hours=1)) == "2026"


@pytest.mark.parametrize(
    ("month", "quarter"),
    [(1, "Q1"), (3, "Q1"), (4, "Q2"), (6, "Q2"), (7, "Q3"), (9, "Q3"), (10, "Q4"), (12, "Q4")],
)
def test_quarter_of_each_month(month: int, quarter: str) -> None:
    when = datetime(2026, month, 15, 4, 0, tzinfo=UTC)
    assert quarter_key(when) == f"2026-{quarter}"


def test_the_offset_of_the_given_time_does_not_matter_only_the_instant() -> None:
    in_new_york = SHANGHAI_MIDNIGHT_1_NOV.astimezone(timezone(timedelta(hours=-4)))
    assert month_key(in_new_york) == "2026-11"


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_key(datetime(2026, 11, 1, 0, 0), "month")


@pytest.mark.parametrize(
    ("text", "granularity"),
    [("2026-11", "month"), ("2026-01", "month"), ("2026-Q4", "quarter"), ("2026", "year")],
)
def test_parse_period_recognises_month_quarter_and_year(
    text: str, granularity: Granularity
) -> None:
    assert parse_period(text) == Period(granularity, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-13",
        "2026-00",
        "2026-1",
        "2026-Q5",
        "2026-q4",
        "26",
        "2026-11-01",
        " 2026",
        "2026-11\n",
        "٢٠٢٦",
        "November",
    ],
)
def test_parse_period_refuses_anything_else_and_names_the_formats(text: str) -> None:
    with pytest.raises(InvalidPeriod, match="YYYY-MM, YYYY-Qn, YYYY"):
        parse_period(text)


def test_every_computed_key_parses_back_to_its_own_granularity() -> None:
    for granularity in GRANULARITIES:
        key = period_key(SHANGHAI_MIDNIGHT_1_NOV, granularity)
        assert parse_period(key) == Period(granularity, key)


def test_a_month_belongs_to_its_quarter_and_year_and_they_consist_of_their_months() -> None:
    assert parent_periods("2026-10") == [Period("quarter", "2026-Q4"), Period("year", "2026")]
    assert months_of(Period("quarter", "2026-Q4")) == ["2026-10", "2026-11", "2026-12"]
    assert months_of(Period("year", "2026"))[::11] == ["2026-01", "2026-12"]
    assert months_of(Period("month", "2026-02")) == ["2026-02"]


def test_trailing_periods_cross_year_ends_oldest_first() -> None:
    months = trailing_periods(Period("month", "2026-02"), 12)
    assert (months[0].key, months[-1].key, len(months)) == ("2025-03", "2026-02", 12)
    quarters = [p.key for p in trailing_periods(Period("quarter", "2026-Q1"), 3)]
    assert quarters == ["2025-Q3", "2025-Q4", "2026-Q1"]
    assert [p.key for p in trailing_periods(Period("year", "2026"), 2)] == ["2025", "2026"]


def test_a_period_ends_at_local_midnight_starting_the_next() -> None:
    # 16:00 UTC on 30 November is midnight of 1 December in Shanghai.
    assert period_end(Period("month", "2026-11")) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert period_end(Period("quarter", "2026-Q4")) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert period_end(Period("year", "2026")) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert period_end(Period("month", "2026-12")) == period_end(Period("year", "2026"))
