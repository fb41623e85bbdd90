"""Who owns a problem: routing rules over the catalogue, most specific area first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gridloop_common.catalogue import (
    CATEGORIES_BY_CODE,
    DEPARTMENTS_BY_CODE,
    UNCLASSIFIED,
    Category,
)
from gridloop_common.contracts import UNLOCATED

RuleLevel = Literal["city", "township", "village"]
# More specific areas win: a village's rule over its township's, a township's over the city's.
_PRECEDENCE: dict[str, int] = {"village": 0, "township": 1, "city": 2}
CITY = "*"


@dataclass(frozen=True)
class RoutingRule:
    """category → unit, for the whole city or one township or village; optional cooperators
    make every case of the category in that area a joint action."""

    level: RuleLevel
    area_id: str  # "*" for the city
    category_code: str
    department: str
    cooperating: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        return rule_id(self.level, self.area_id, self.category_code)


def rule_id(level: str, area_id: str, category_code: str) -> str:
    return f"{level}:{area_id}:{category_code}"


def candidate_rule_ids(
    category_code: str, township_id: str | None, village_id: str | None
) -> list[str]:
    """The ids of every rule that could apply; the repository fetches just these."""
    ids = [rule_id("city", CITY, category_code)]
    if township_id:
        ids.append(rule_id("township", township_id, category_code))
    if village_id:
        ids.append(rule_id("village", village_id, category_code))
    return ids


@dataclass(frozen=True)
class Route:
    lead: str
    cooperating: tuple[str, ...]
    category: Category | None
    source: str  # "catalogue" or the rule id

    @property
    def joint(self) -> bool:
        return bool(self.cooperating)


@dataclass(frozen=True)
class Triage:
    """No route: the case goes to the center's triage list, for these reasons."""

    reasons: tuple[str, ...]


def triage_reasons(category_code: str, grid_id: str) -> tuple[str, ...]:
    reasons = []
    if category_code == UNCLASSIFIED:
        reasons.append("unclassified")
    elif category_code not in CATEGORIES_BY_CODE:
        reasons.append("unknown_category")
    if grid_id == UNLOCATED:
        reasons.append("unlocated")
    return tuple(reasons)


def route(
    category_code: str,
    grid_id: str,
    township_id: str | None,
    village_id: str | None,
    rules: Iterable[RoutingRule],
) -> Route | Triage:
    """The unit(s) for a report, or the reasons the center must triage it."""
    reasons = triage_reasons(category_code, grid_id)
    if reasons:
        return Triage(reasons)
    return route_category(category_code, township_id, village_id, rules)


def route_category(
    category_code: str,
    township_id: str | None,
    village_id: str | None,
    rules: Iterable[RoutingRule],
) -> Route | Triage:
    """Route a known category in an area (either may be unknown: city rules still apply)."""
    category = CATEGORIES_BY_CODE.get(category_code)
    if category is None:
        return Triage(("unknown_category",))
    applicable = [
        r
        for r in rules
        if r.category_code == category_code
        and (
            r.level == "city"
            or (r.level == "township" and r.area_id == township_id)
            or (r.level == "village" and r.area_id == village_id)
        )
        # A rule naming a unit the catalogue does not know is ignored rather than obeyed.
        and all(d in DEPARTMENTS_BY_CODE for d in (r.department, *r.cooperating))
    ]
    if applicable:
        best = min(applicable, key=lambda r: _PRECEDENCE[r.level])
        cooperating = tuple(d for d in dict.fromkeys(best.cooperating) if d != best.department)
        return Route(best.department, cooperating, category, best.rule_id)
    return Route(category.department, (), category, "catalogue")
