"""The overview's figures: the seed's rates with their numerators and denominators, the day's
and month's bounds in the city's calendar, and reports per hour for the sparkline.

受理率 (accepted within 8 h) counts cases dispatched in the period whose first acceptance came
within its order's accept window; 办结率 (completed in time) those completed by their order's
complete-by; 满意率 the satisfied share of the cases closed in the period. Each is shown as
"part / whole" beside the rate, so a rate of 100 % over 3 cases is not mistaken for a city's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gridloop_common.periods import SHANGHAI


@dataclass(frozen=True)
class Rate:
    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return None if self.whole == 0 else self.part / self.whole


@dataclass(frozen=True)
class PeriodFigures:
    reported: int
    dispatched: int
    accepted_in_time: Rate
    completed_in_time: Rate
    closed: int
    satisfied: Rate


def day_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def per_hour(times: Iterable[datetime], now: datetime, hours: int = 24) -> list[int]:
    """Counts per hour for the last `hours` hours, oldest first; the last bucket ends now."""
    counts = [0] * hours
    for moment in times:
        age_hours = int((now - moment) / timedelta(hours=1))
        if 0 <= age_hours < hours:
            counts[hours - 1 - age_hours] += 1
    return counts


def sparkline(counts: list[int], width: float = 240, height: float = 40) -> str:
    """SVG polyline points for `counts`, drawn inside width x height (top is the highest)."""
    if not counts:
        return ""
    top = max(*counts, 1)
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - (count / top) * (height - 2) - 1:.1f}"
        for i, count in enumerate(counts)
    )
