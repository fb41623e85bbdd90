"""The department catalogue and problem categories: one source read by dispatch and sla-monitor.

Each category names its responsible department and its completion limit (the seed: accept within
8 hours, finish within the time stipulated for the category). The full Ningguo catalogue grows in
the intake issue; this is the seed set the skeleton loop routes with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    department: str
    complete_within_hours: float
    keywords: tuple[str, ...] = ()


DEPARTMENTS: tuple[Department, ...] = (
    Department("city-mgmt", "市城市管理局", "Urban Management Bureau"),
    Department("housing", "市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    Department("ecology", "市生态环境分局", "Ecology and Environment Bureau"),
    Department("water", "市水利局", "Water Resources Bureau"),
    Department("transport", "市交通运输局", "Transport Bureau"),
)

CATEGORIES: tuple[Category, ...] = (
    Category("road-damage", "道路破损", "city-mgmt", 72, ("道路", "坑洼", "破损")),
    Category("garbage", "垃圾清运", "city-mgmt", 24, ("垃圾", "清运")),
    Category("illegal-building", "违章搭建", "housing", 168, ("违建", "搭建")),
    Category("pollution", "环境污染", "ecology", 72, ("污染", "排污", "异味")),
    Category("flooding", "积水内涝", "water", 24, ("积水", "内涝")),
    Category("bus-stop", "公交站台", "transport", 120, ("公交", "站台")),
)

DEPARTMENTS_BY_CODE = {d.code: d for d in DEPARTMENTS}
CATEGORIES_BY_CODE = {c.code: c for c in CATEGORIES}
