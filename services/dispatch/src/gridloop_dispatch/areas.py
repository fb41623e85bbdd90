"""Where a case is: township and village of its grid, a readable path, its fallback owner."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.catalogue import DEPARTMENTS_BY_CODE
from gridloop_common.contracts import UNLOCATED
from gridloop_common.registry import Registry


@dataclass(frozen=True)
class Area:
    grid_id: str
    township_id: str | None
    village_id: str | None
    grid_path: str | None
    # The township government's department code; None when the township is unknown.
    fallback_owner: str | None


class AreaDirectory:
    """Answers from the Ningguo registry, falling back on what the report itself says."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def area(
        self, grid_id: str, township_id: str | None = None, village_id: str | None = None
    ) -> Area:
        grid = self._registry.grid(grid_id) if grid_id != UNLOCATED else None
        if grid is None:
            owner = township_id if _is_township_government(township_id) else None
            return Area(grid_id, township_id, village_id, None, owner)
        township = self._registry.township(grid.township_id)
        village = self._registry.village(grid.village_id)
        path = " / ".join(
            name
            for name in (
                township.name_zh if township else None,
                village.name_zh if village else None,
                grid.name_zh,
            )
            if name
        )
        return Area(
            grid_id,
            grid.township_id,
            grid.village_id,
            path,
            self._registry.fallback_owner(grid_id),
        )

    def knows_grid(self, grid_id: str) -> bool:
        return self._registry.grid(grid_id) is not None


def _is_township_government(code: str | None) -> bool:
    department = DEPARTMENTS_BY_CODE.get(code or "")
    return department is not None and department.kind == "township"
