"""Reporting periods as scoring counts them: Asia/Shanghai month, quarter or year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

# The same keys and formats as scoring's `/v1/departments/{code}/counts?period=` (services share
# no code, so the few lines are repeated): a rate and a count for "2026-Q4" cover the same cases.
SHANGHAI = ZoneInfo("Asia/Shanghai")

Granularity = Literal["month", "quarter", "year"]
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


def period_keys(when: datetime) -> list[str]:
    """Every period `when` falls in, e.g. ["2026-11", "2026-Q4", "2026"]."""
    if when.tzinfo is None:
        raise ValueError("period keys need a timezone-aware datetime")
    local = when.astimezone(SHANGHAI)
    return [
        f"{local.year:04d}-{local.month:02d}",
        f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}",
        f"{local.year:04d}",
    ]


def parse_period(text: str) -> Period:
    for granularity, pattern in _PATTERNS:
        if pattern.fullmatch(text):
            return Period(granularity, text)
    expected = ", ".join(EXPECTED_FORMATS.values())
    raise InvalidPeriod(f"period {text!r} is not one of {expected}")
