"""The city's map: the registry's grids drawn as SVG shapes, coloured by their open orders.

The shapes are projected once, when the console starts (an equirectangular projection scaled
by the cosine of the city's latitude is exact enough for 50 km); a page only picks colours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from shapely.geometry import Polygon

from gridloop_common.registry import Registry
from gridloop_console.board import BoardRow
from gridloop_console.case_view import Colour, worst

WIDTH = 1000.0  # the SVG's viewBox width; the height follows the city's shape


@dataclass(frozen=True)
class GridShape:
    grid_id: str
    township_id: str
    path: str  # SVG path data in viewBox coordinates


@dataclass(frozen=True)
class CityMap:
    width: float
    height: float
    grids: tuple[GridShape, ...]
    townships: tuple[tuple[str, float, float], ...]  # id, label x, label y
    # The townships' outlines, drawn over the grids so a reader finds their way.
    outlines: tuple[str, ...] = ()

    @classmethod
    def of_registry(cls, registry: Registry) -> CityMap:
        west, south, east, north = _bounds(g.polygon.bounds for g in registry.grids)
        squeeze = math.cos(math.radians((south + north) / 2))
        scale = WIDTH / ((east - west) * squeeze)
        height = (north - south) * scale

        def point(lon: float, lat: float) -> str:
            return f"{(lon - west) * squeeze * scale:.1f} {(north - lat) * scale:.1f}"

        def path(polygon: Polygon) -> str:
            return "M" + "L".join(point(x, y) for x, y in polygon.exterior.coords) + "Z"

        shapes = tuple(
            GridShape(grid.id, grid.township_id, path(grid.polygon)) for grid in registry.grids
        )
        labels = []
        for township in registry.townships:
            centre = township.polygon.representative_point()
            x, y = point(centre.x, centre.y).split()
            labels.append((township.id, float(x), float(y)))
        outlines = tuple(path(t.polygon) for t in registry.townships)
        return cls(round(WIDTH, 1), round(height, 1), shapes, tuple(labels), outlines)


def _bounds(
    boxes: Iterable[tuple[float, float, float, float]],
) -> tuple[float, float, float, float]:
    west = south = math.inf
    east = north = -math.inf
    for box_west, box_south, box_east, box_north in boxes:
        west, south = min(west, box_west), min(south, box_south)
        east, north = max(east, box_east), max(north, box_north)
    return west, south, east, north


def grid_colours(rows: Iterable[BoardRow]) -> dict[str, Colour]:
    """Each grid's worst open-order colour (grids without open orders are absent)."""
    by_grid: dict[str, list[Colour]] = {}
    for row in rows:
        if row.grid_id:
            by_grid.setdefault(row.grid_id, []).append(row.colour)
    return {grid: colour for grid, colours in by_grid.items() if (colour := worst(colours))}
