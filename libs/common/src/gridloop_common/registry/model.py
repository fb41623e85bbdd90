"""The registry's records: townships, villages, grids, chat groups, officers, households."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shapely.geometry import Polygon

from gridloop_common.registry.places import TownshipKind

VillageKind = Literal["community", "village"]
GridKind = Literal["urban", "rural"]
OfficerRole = Literal["grid_worker", "information_officer"]
AreaLevel = Literal["grid", "village", "township", "city"]

# Polygons are shapely geometries in (lon, lat) order, WGS 84 degrees, as GeoJSON has them.


@dataclass(frozen=True, slots=True)
class Township:
    id: str
    name_zh: str
    kind: TownshipKind
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class Village:
    id: str
    name_zh: str
    township_id: str
    kind: VillageKind
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class Grid:
    id: str
    name_zh: str
    village_id: str
    township_id: str
    kind: GridKind
    households: int
    polygon: Polygon


@dataclass(frozen=True, slots=True)
class ChatGroup:
    id: str
    grid_id: str
    name_zh: str
    households: int
    """Households of the grid that are members of this group."""


@dataclass(frozen=True, slots=True)
class Officer:
    """A grid information officer; the first of each grid is its grid worker and group owner."""

    id: str
    grid_id: str
    role: OfficerRole


@dataclass(frozen=True, slots=True)
class Household:
    """A household reachable through a chat group; the contact is synthetic and cannot dial."""

    id: str
    grid_id: str
    chat_group_id: str
    contact: str


class UnknownAreaError(LookupError):
    """Ids that name no area of the given level."""

    def __init__(self, level: AreaLevel, ids: tuple[str, ...]) -> None:
        super().__init__(f"unknown {level} id(s): {', '.join(ids)}")
        self.level = level
        self.ids = ids
