"""Reporting periods (month, quarter, year) as the city counts them: Asia/Shanghai calendar.

Shared by scoring (rankings, grades) and sla-monitor (on-time rates), so a figure for "2026-Q4"
covers the same cases in both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

# Rankings follow the local calendar: a case dispatched at 01:00 on 1 November in Ningguo is a
# November case, although it is still 31 October in UTC.
SHANGHAI = ZoneInfo("Asia/Shanghai")

Granularity = Literal["month", "quarter", "year"]
GRANULARITIES: tuple[Granularity, ...] = ("month", "quarter", "year")
# Named in the 422 answer to a malformed period, so a client can correct itself.
EXPECTED_FORMATS: dict[Granularity, str] = {
    "month": "YYYY-MM",
    "quarter": "YYYY-Qn",
    "year": "YYYY",
}

# [0-9], not \d: \d would accept non-ASCII digits such as "٢٠٢٦".
_PATTERNS: tuple[tuple[Granularity, re.Pattern[str]], ...] = (
    ("month", re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")),
    ("quarter", re.compile(r"[0-9]{4}-Q[1-4]")),
    ("year", re.compile(r"[0-9]{4}")),
)


class InvalidPeriod(ValueError):
    """A period key in none of the EXPECTED_FORMATS."""


@dataclass(frozen=True)
class Period:
    granularity: Granularity
    key: str


def local_time(when: datetime) -> datetime:
    if when.tzinfo is None:
        # A naive time has no place on the calendar; guessing UTC here would hide a bug upstream.
        raise ValueError("period keys need a timezone-aware datetime")
    return when.astimezone(SHANGHAI)


def month_key(when: datetime) -> str:
    local = local_time(when)
    return f"{local.year:04d}-{local.month:02d}"


def quarter_key(when: datetime) -> str:
    local = local_time(when)
    return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"


def year_key(when: datetime) -> str:
    return f"{local_time(when).year:04d}"


def period_key(when: datetime, granularity: Granularity) -> str:
    if granularity == "month":
        return month_key(when)
    if granularity == "quarter":
        return quarter_key(when)
    return year_key(when)


def period_keys(when: datetime) -> dict[str, str]:
    """Every period `when` falls in, e.g. {"month": "2026-11", "quarter": "2026-Q4", ...}."""
    return {granularity: period_key(when, granularity) for granularity in GRANULARITIES}


def parse_period(text: str) -> Period:
    for granularity, pattern in _PATTERNS:
        if pattern.fullmatch(text):
            return Period(granularity, text)
    expected = ", ".join(EXPECTED_FORMATS.values())
    raise InvalidPeriod(f"period {text!r} is not one of {expected}")


def _month_parts(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)


def parent_periods(month: str) -> list[Period]:
    """The quarter and the year a month key belongs to: "2026-11" → 2026-Q4, 2026."""
    year, number = _month_parts(month)
    return [
        Period("quarter", f"{year:04d}-Q{(number - 1) // 3 + 1}"),
        Period("year", f"{year:04d}"),
    ]


def months_of(period: Period) -> list[str]:
    """The month keys a period consists of, in calendar order."""
    if period.granularity == "month":
        return [period.key]
    if period.granularity == "quarter":
        year, quarter = period.key.split("-Q")
        first = (int(quarter) - 1) * 3 + 1
        return [f"{int(year):04d}-{month:02d}" for month in range(first, first + 3)]
    return [f"{int(period.key):04d}-{month:02d}" for month in range(1, 13)]


def _ordinal(period: Period) -> int:
    """Consecutive periods of one granularity have consecutive ordinals."""
    if period.granularity == "month":
        year, number = _month_parts(period.key)
        return year * 12 + number - 1
    if period.granularity == "quarter":
        year_text, quarter = period.key.split("-Q")
        return int(year_text) * 4 + int(quarter) - 1
    return int(period.key)


def _from_ordinal(granularity: Granularity, ordinal: int) -> Period:
    if granularity == "month":
        return Period("month", f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}")
    if granularity == "quarter":
        return Period("quarter", f"{ordinal // 4:04d}-Q{ordinal % 4 + 1}")
    return Period("year", f"{ordinal:04d}")


def trailing_periods(period: Period, count: int) -> list[Period]:
    """`count` periods of the same granularity ending with `period`, oldest first."""
    last = _ordinal(period)
    return [_from_ordinal(period.granularity, n) for n in range(last - count + 1, last + 1)]


def period_end(period: Period) -> datetime:
    """The instant the period ends: local midnight starting the next one (timezone-aware)."""
    following = _from_ordinal(period.granularity, _ordinal(period) + 1)
    if following.granularity == "year":
        return datetime(int(following.key), 1, 1, tzinfo=SHANGHAI)
    first_month = months_of(following)[0]
    year, number = _month_parts(first_month)
    return datetime(year, number, 1, tzinfo=SHANGHAI)
