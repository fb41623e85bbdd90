"""Clock calendars: wall-clock time, or a department's working hours, counted and added up."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WALL_CLOCK = "wall-clock"
# Key of SLA_CALENDARS that applies to every department not named on its own.
EVERY_DEPARTMENT = "*"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A deadline further away than this in working time means a calendar with (almost) no working
# days; failing loudly beats looping over the calendar for ever.
MAX_SEARCH_DAYS = 3 * 366


class Calendar(Protocol):
    """Which time counts towards an SLA window."""

    @property
    def name(self) -> str: ...

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which `duration` of counted time has passed since `start`."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Counted time between two instants; zero if `end` is not after `start`."""
        ...


@dataclass(frozen=True)
class WallClock:
    """Every second counts: the default (the seed's "8 hours" are plain hours)."""

    name: str = WALL_CLOCK

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + max(duration, timedelta(0))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


class CalendarError(ValueError):
    """A calendar in the configuration that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class WorkingHours:
    """Only time inside the daily windows of working days counts.

    A working day is a listed weekday that is not a holiday, or an extra working day (China's
    调休 moves weekend days into the week around public holidays). Windows are local times in
    `timezone`, sorted, non-overlapping, each within one day.
    """

    name: str
    timezone: ZoneInfo
    windows: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]  # ISO weekday numbers, Monday = 1
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) in time order, from the local day containing `start` on."""
        day = start.astimezone(self.timezone).date()
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                for opens, closes in self.windows:
                    yield (
                        datetime.combine(day, opens, self.timezone).astimezone(UTC),
                        datetime.combine(day, closes, self.timezone).astimezone(UTC),
                    )
            day += timedelta(days=1)
        raise CalendarError(
            f"calendar {self.name!r} has no working time for {MAX_SEARCH_DAYS} days"
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        remaining = duration
        if remaining <= timedelta(0):
            return start
        for opens, closes in self.intervals(start):
            if closes <= start:
                continue
            begin = max(opens, start)
            available = closes - begin
            # `<=`: a window that ends exactly at the close of a day ends there, not the next
            # morning — the deadline is the last working second, not the first one after.
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("intervals() ends by raising")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self.intervals(start):
            if opens >= end:
                return total
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        raise AssertionError("intervals() ends by raising")  # pragma: no cover


WALL = WallClock()


@dataclass(frozen=True)
class Calendars:
    """The calendar of each department: its own, else the `*` entry, else wall-clock time."""

    by_department: Mapping[str, WorkingHours] = field(default_factory=dict)

    def for_department(self, department: str) -> Calendar:
        return (
            self.by_department.get(department) or self.by_department.get(EVERY_DEPARTMENT) or WALL
        )

    def named(self, name: str) -> Calendar:
        """The calendar a stored clock was started with (its `calendar` field)."""
        if name == WALL_CLOCK:
            return WALL
        for calendar in self.by_department.values():
            if calendar.name == name:
                return calendar
        # The configuration changed since the clock started: its department's calendar now.
        return WALL


def _time_of(text: str, where: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise CalendarError(f"{where}: {text!r} is not a time HH:MM") from None


def _windows(value: object, where: str) -> tuple[tuple[time, time], ...]:
    if not isinstance(value, list) or not value:
        raise CalendarError(f"{where}: hours must be a non-empty list like ['08:30-17:30']")
    windows: list[tuple[time, time]] = []
    for item in value:
        if not isinstance(item, str) or item.count("-") != 1:
            raise CalendarError(f"{where}: {item!r} is not a window HH:MM-HH:MM")
        opens_text, closes_text = item.split("-")
        opens, closes = _time_of(opens_text, where), _time_of(closes_text, where)
        if opens >= closes:
            raise CalendarError(f"{where}: window {item!r} must open before it closes")
        windows.append((opens, closes))
    windows.sort()
    for (_, closes), (opens, _) in itertools.pairwise(windows):
        if opens < closes:
            raise CalendarError(f"{where}: windows overlap")
    return tuple(windows)


def _days(value: object, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise CalendarError(f"{where}: days must be a non-empty list like ['mon', 'tue']")
    numbers: set[int] = set()
    for item in value:
        name = str(item).strip().lower()[:3]
        if name not in DAY_NAMES:
            raise CalendarError(f"{where}: {item!r} is not a day name ({', '.join(DAY_NAMES)})")
        numbers.add(DAY_NAMES.index(name) + 1)
    return frozenset(numbers)


def _dates(value: object, where: str, what: str) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise CalendarError(f"{where}: {what} must be a list of YYYY-MM-DD dates")
    try:
        return frozenset(date.fromisoformat(str(item)) for item in value)
    except ValueError:
        raise CalendarError(f"{where}: {what} must be a list of YYYY-MM-DD dates") from None


KNOWN_KEYS = frozenset({"timezone", "hours", "days", "holidays", "workdays"})


def working_hours(key: str, spec: Mapping[str, Any]) -> WorkingHours:
    """One department's calendar from its configuration entry (defaults: the city's office)."""
    where = f"SLA_CALENDARS[{key!r}]"
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise CalendarError(
            f"{where}: unknown keys {sorted(unknown)} (known: {sorted(KNOWN_KEYS)})"
        )
    zone_name = str(spec.get("timezone", "Asia/Shanghai"))
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{where}: unknown timezone {zone_name!r}") from None
    return WorkingHours(
        name=f"working-hours:{key}",
        timezone=zone,
        windows=_windows(spec.get("hours", ["08:30-17:30"]), where),
        weekdays=_days(spec.get("days", list(DAY_NAMES[:5])), where),
        holidays=_dates(spec.get("holidays"), where, "holidays"),
        workdays=_dates(spec.get("workdays"), where, "workdays"),
    )


def parse_calendars(text: str) -> Calendars:
    """SLA_CALENDARS: a JSON object from department code (or `*`) to its working hours."""
    if not text.strip():
        return Calendars()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise CalendarError(f"SLA_CALENDARS is not JSON: {error.msg}") from None
    if not isinstance(raw, dict):
        raise CalendarError("SLA_CALENDARS must be a JSON object keyed by department code")
    calendars: dict[str, WorkingHours] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            raise CalendarError(f"SLA_CALENDARS[{key!r}] must be an object")
        calendars[str(key)] = working_hours(str(key), spec)
    return Calendars(calendars)
