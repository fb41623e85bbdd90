"""The map: every grid of the registry, coloured by its open orders' worst colour; a grid's
page names its village, households, chat groups, grid worker and open cases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridloop_console.board import board_rows
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.city_map import grid_colours
from gridloop_console.sessions import Role
from gridloop_console.web import Deps, Visitor, render

router = APIRouter(tags=["console"])


@router.get("/map", response_class=HTMLResponse, summary="The city's grids by open orders")
async def city_map(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    return await _map(request, deps, role, "map.html")


@router.get("/map/shapes", response_class=HTMLResponse, summary="The map's live fragment")
async def map_shapes(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    return await _map(request, deps, role, "_map_svg.html")


async def _map(request: Request, deps: ConsoleDeps, role: Role, template: str) -> HTMLResponse:
    rows = board_rows(await deps.board.open_cases(), deps.clock.now())
    return render(
        request,
        deps,
        template,
        role=role,
        city=deps.places.city_map,
        colours=grid_colours(rows),
    )


@router.get("/map/grids/{grid_id}", response_class=HTMLResponse, summary="One grid")
async def grid_page(request: Request, deps: Deps, role: Visitor, grid_id: str) -> HTMLResponse:
    registry = deps.places.registry
    grid = registry.grid(grid_id)
    if grid is None:
        return render(request, deps, "missing.html", role=role, status_code=404, message="no_grid")
    rows = [
        row
        for row in board_rows(await deps.board.open_cases(), deps.clock.now())
        if row.grid_id == grid_id
    ]
    officers = registry.officers_of_grids([grid_id])
    return render(
        request,
        deps,
        "grid.html",
        role=role,
        grid=grid,
        village=registry.village(grid.village_id),
        groups=registry.chat_groups_of_grids([grid_id]),
        worker=officers[0] if officers else None,
        rows=rows,
    )
