"""Who owns a problem: category → responsible department, from the shared catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.catalogue import CATEGORIES_BY_CODE, Category


@dataclass(frozen=True)
class Route:
    department: str
    category: Category


def route(category_code: str) -> Route | None:
    """The department for a category, or None when the center must triage the report."""
    category = CATEGORIES_BY_CODE.get(category_code)
    if category is None:
        return None
    return Route(category.department, category)
