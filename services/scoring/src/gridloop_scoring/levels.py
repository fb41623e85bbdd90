"""Who is ranked (levels) and on what (metrics): the vocabulary of the scoring API.

An entity is named by a key `<level>:<id>`, e.g. `department:city-mgmt`, `grid:grd-xijin-001-01`,
`handler:city-mgmt:Wang Lei` (a handler is a person inside one department, so the department is
part of the id: two departments may both have a "Wang Lei").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["grid_worker", "handler", "department", "township", "village", "grid"]
LEVELS: tuple[Level, ...] = ("grid_worker", "handler", "department", "township", "village", "grid")

MetricKind = Literal["count", "rate", "median"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind
    # Ranked highest first, unless fewer is better (reopens, breaches, waiting times).
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("reported", "count", True, "reports filed in the period"),
        Metric("dispatched", "count", True, "work orders dispatched in the period"),
        Metric(
            "handled",
            "count",
            True,
            "work orders completed plus cases resolved locally in the period",
        ),
        Metric(
            "acceptance_rate",
            "rate",
            True,
            "orders dispatched in the period that were accepted ÷ orders dispatched",
        ),
        Metric(
            "on_time_acceptance_rate",
            "rate",
            True,
            "orders dispatched in the period accepted by their accept deadline ÷ orders dispatched",
        ),
        Metric(
            "completion_rate",
            "rate",
            True,
            "of the period's accepted orders, those completed ÷ those accepted",
        ),
        Metric(
            "on_time_completion_rate",
            "rate",
            True,
            "of the period's completed orders, those completed by their deadline ÷ completed",
        ),
        Metric(
            "resolution_rate",
            "rate",
            True,
            "of the period's orders whose completion completed their case, those on which the "
            "reporter closed it satisfied ÷ those completions",
        ),
        Metric(
            "satisfaction_rate",
            "rate",
            True,
            "of the period's orders whose case was closed, those closed satisfied ÷ closed",
        ),
        Metric("reopens", "count", False, "cases reopened (sent back) in the period"),
        Metric("breaches", "count", False, "SLA deadlines passed in the period"),
        Metric(
            "median_accept_seconds",
            "median",
            False,
            "median time from dispatch to acceptance of the period's accepted orders",
        ),
        Metric(
            "median_complete_seconds",
            "median",
            False,
            "median time from dispatch to completion of the period's completed orders",
        ),
    )
}
COUNT_METRICS = tuple(name for name, m in METRICS.items() if m.kind == "count")
RATE_METRICS = tuple(name for name, m in METRICS.items() if m.kind == "rate")

_AREA_AND_UNIT = tuple(METRICS)
# What each level is answerable for. A grid worker files reports on patrol and solves cases
# locally; a handler is only known once an order is accepted or completed, so neither dispatch
# counts nor acceptance rates nor breaches (which name no person) are theirs.
LEVEL_METRICS: dict[Level, tuple[str, ...]] = {
    "grid_worker": ("reported", "handled"),
    "handler": (
        "handled",
        "on_time_acceptance_rate",
        "completion_rate",
        "on_time_completion_rate",
        "resolution_rate",
        "satisfaction_rate",
        "median_accept_seconds",
        "median_complete_seconds",
    ),
    # Reports reach places, not departments: a department's volume starts at dispatch.
    "department": tuple(m for m in _AREA_AND_UNIT if m != "reported"),
    "township": _AREA_AND_UNIT,
    "village": _AREA_AND_UNIT,
    "grid": _AREA_AND_UNIT,
}


def entity_key(level: Level, entity_id: str) -> str:
    return f"{level}:{entity_id}"


def split_entity_key(key: str) -> tuple[Level, str]:
    level, _, entity_id = key.partition(":")
    if level not in LEVELS or not entity_id:
        raise ValueError(f"not an entity key: {key!r}")
    return level, entity_id


def handler_id(department: str, handler: str) -> str:
    return f"{department}:{handler}"
