"""Pure placement rules: a grid id, a point or an address text → a Placement in the registry."""

from __future__ import annotations

from gridloop_common.contracts import UNLOCATED
from gridloop_common.registry import Registry
from gridloop_intake.submission import Placement, Problem, SubmissionRejected


def place_grid(registry: Registry, grid_id: str, field: str = "grid_id") -> Placement:
    grid = registry.grid(grid_id)
    if grid is None:
        raise SubmissionRejected(Problem(field, f"unknown grid {grid_id!r}"), code="unknown_grid")
    return Placement(grid.id, "grid", grid.village_id, grid.township_id)


def place_point(registry: Registry, lat: float, lon: float, field: str = "location") -> Placement:
    grid = registry.locate(lat, lon)
    if grid is None:
        raise SubmissionRejected(
            Problem(field, f"({lat}, {lon}) is outside the city's grids"), code="outside_city"
        )
    return Placement(grid.id, "point", grid.village_id, grid.township_id)


def place_address(registry: Registry, text: str) -> Placement:
    """Best effort: a village/community named in the text, else its township, else unlocated."""
    village = registry.match_village(text)
    if village is not None:
        return Placement(UNLOCATED, "village", village.id, village.township_id)
    township = registry.match_township(text)
    if township is not None:
        return Placement(UNLOCATED, "township", None, township.id)
    return Placement(UNLOCATED, "none")
