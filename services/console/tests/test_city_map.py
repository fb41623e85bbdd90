"""The map's shapes: every grid once, inside the drawing, coloured by its worst open order."""

from __future__ import annotations

from datetime import UTC, datetime

from gridloop_common.registry import load_registry
from gridloop_console.board import BoardRow
from gridloop_console.case_view import Colour
from gridloop_console.city_map import CityMap, grid_colours


def test_every_grid_is_drawn_once_inside_the_view() -> None:
    registry = load_registry()
    city = CityMap.of_registry(registry)
    assert len(city.grids) == len(registry.grids) == 2676
    assert len({shape.grid_id for shape in city.grids}) == 2676
    for shape in city.grids:
        numbers = [float(n) for n in shape.path.strip("MZ").replace("L", " ").split()]
        xs, ys = numbers[0::2], numbers[1::2]
        assert min(xs) >= 0 and max(xs) <= city.width + 0.1
        assert min(ys) >= 0 and max(ys) <= city.height + 0.1
    assert len(city.townships) == len(registry.townships)


def row(grid: str, colour: Colour) -> BoardRow:
    moment = datetime(2026, 12, 7, tzinfo=UTC)
    return BoardRow("C", "O", "water", "t", grid, None, False, colour, "accept", moment, 0.0)


def test_a_grid_takes_its_worst_open_order_colour() -> None:
    colours = grid_colours(
        [row("g1", Colour.GREEN), row("g1", Colour.RED), row("g2", Colour.YELLOW)]
    )
    assert colours == {"g1": Colour.RED, "g2": Colour.YELLOW}
