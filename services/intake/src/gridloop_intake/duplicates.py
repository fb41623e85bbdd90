"""Pure duplicate rules: is a new report the same problem as an open one already reported?

A report is a duplicate of an open report of the same category placed within the category's
distance and time window; chat text with no point is a duplicate when it is near-identical to
an open chat report of the same grid within the window. Thresholds per category, defaults below.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher

from gridloop_common.contracts import GeoPoint


@dataclass(frozen=True)
class DuplicateRule:
    distance_m: float
    window: timedelta


DEFAULT_RULE = DuplicateRule(distance_m=50, window=timedelta(hours=24))
# A street light or a pothole is one thing at one spot; pollution and noise are felt across a
# neighbourhood; a missing manhole cover is urgent and precise.
RULES: dict[str, DuplicateRule] = {
    "pollution": DuplicateRule(300, timedelta(hours=48)),
    "construction-noise": DuplicateRule(300, timedelta(hours=12)),
    "restaurant-fumes": DuplicateRule(150, timedelta(hours=48)),
    "flooding": DuplicateRule(200, timedelta(hours=12)),
    "road-damage": DuplicateRule(30, timedelta(hours=72)),
    "illegal-building": DuplicateRule(40, timedelta(days=7)),
    "street-light": DuplicateRule(15, timedelta(hours=72)),
    "manhole-cover": DuplicateRule(20, timedelta(hours=24)),
    "fallen-tree": DuplicateRule(30, timedelta(hours=24)),
    "water-pipe-burst": DuplicateRule(100, timedelta(hours=12)),
    "water-outage": DuplicateRule(500, timedelta(hours=12)),
    "power-outage": DuplicateRule(500, timedelta(hours=6)),
    "gas-leak": DuplicateRule(100, timedelta(hours=6)),
    "air-pollution": DuplicateRule(500, timedelta(hours=24)),
}
# How far back any report can still attract a duplicate.
LONGEST_WINDOW = max(DEFAULT_RULE.window, *(rule.window for rule in RULES.values()))
TEXT_SIMILARITY = 0.85


def rule_for(category_code: str) -> DuplicateRule:
    return RULES.get(category_code, DEFAULT_RULE)


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance (haversine) in metres."""
    earth_radius = 6_371_000.0
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * earth_radius * math.asin(math.sqrt(h))


_MENTION = re.compile("居民助[手理]")


def normalized_text(text: str) -> str:
    """Lower case, without spaces, punctuation and symbols (full- or half-width) or mentions."""
    kept = (c for c in _MENTION.sub("", text) if not c.isspace())
    return "".join(c for c in kept if unicodedata.category(c)[0] not in "PS").lower()


def text_similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, normalized_text(a), normalized_text(b)).ratio()


@dataclass(frozen=True)
class OpenReport:
    report_id: str
    category_code: str
    grid_id: str
    reported_at: datetime
    description: str
    location: GeoPoint | None


def duplicate_of(
    *,
    category_code: str,
    grid_id: str,
    location: GeoPoint | None,
    description: str,
    reported_at: datetime,
    candidates: list[OpenReport],
) -> tuple[OpenReport, str] | None:
    """The earliest open report this one duplicates, with the reason; None for a new problem."""
    rule = rule_for(category_code)
    matches: list[tuple[OpenReport, str]] = []
    for other in candidates:
        if other.category_code != category_code:
            continue
        if abs(reported_at - other.reported_at) > rule.window:
            continue
        if location is not None and other.location is not None:
            metres = distance_m(location, other.location)
            if metres <= rule.distance_m:
                matches.append((other, f"same category within {metres:.0f} m"))
        elif other.grid_id == grid_id:
            similarity = text_similarity(description, other.description)
            if similarity >= TEXT_SIMILARITY:
                matches.append((other, f"near-identical text in the same grid ({similarity:.2f})"))
    if not matches:
        return None
    return min(matches, key=lambda match: match[0].reported_at)
