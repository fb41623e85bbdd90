"""Lookups over the registry: by id, by place (point-in-polygon), by address text, by area."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from shapely import STRtree
from shapely.geometry import Point, Polygon

from gridloop_common.registry.geo import area_km2
from gridloop_common.registry.model import (
    AreaLevel,
    ChatGroup,
    Grid,
    Household,
    Officer,
    Township,
    UnknownAreaError,
    Village,
)
from gridloop_common.registry.places import TOWNSHIP_ALIASES

# Contacts are "+86-000-" and 8 digits: the 000 area code does not exist, so no contact can reach
# a real person. The digits are the household's ordinal under an affine map modulo 10^8 (the
# multiplier is coprime to 10), which keeps them unique without looking sequential.
_CONTACT_PREFIX = "+86-000-"
_CONTACT_MODULUS = 10**8
_CONTACT_MULTIPLIER = 48_271
_VILLAGE_SUFFIXES = ("社区", "村")


class Registry:
    """The four-level Ningguo registry: city → townships → villages/communities → grids."""

    def __init__(
        self,
        *,
        seed: int,
        city: Polygon,
        townships: tuple[Township, ...],
        villages: tuple[Village, ...],
        grids: tuple[Grid, ...],
        chat_groups: tuple[ChatGroup, ...],
        officers: tuple[Officer, ...],
    ) -> None:
        self.seed = seed
        self.city = city
        self.townships = townships
        self.villages = villages
        self.grids = grids
        self.chat_groups = chat_groups
        self.officers = officers

        self._townships = {t.id: t for t in townships}
        self._villages = {v.id: v for v in villages}
        self._grids = {g.id: g for g in grids}
        self._grid_order = {g.id: i for i, g in enumerate(grids)}
        self._chat_groups = {c.id: c for c in chat_groups}
        self._officers = {o.id: o for o in officers}

        self._grids_by_village: dict[str, list[Grid]] = {v.id: [] for v in villages}
        self._grids_by_township: dict[str, list[Grid]] = {t.id: [] for t in townships}
        for grid in grids:
            self._grids_by_village[grid.village_id].append(grid)
            self._grids_by_township[grid.township_id].append(grid)
        self._groups_by_grid: dict[str, list[ChatGroup]] = {g.id: [] for g in grids}
        self._first_household: dict[str, int] = {}
        ordinal = 0
        for group in chat_groups:
            self._groups_by_grid[group.grid_id].append(group)
            self._first_household[group.id] = ordinal
            ordinal += group.households
        self._officers_by_grid: dict[str, list[Officer]] = {g.id: [] for g in grids}
        for officer in officers:
            self._officers_by_grid[officer.grid_id].append(officer)

        self._tree = STRtree([g.polygon for g in grids])
        self._township_names = sorted(
            (
                (name, t)
                for t in townships
                for name in (t.name_zh, *TOWNSHIP_ALIASES.get(t.id.removeprefix("twp-"), ()))
            ),
            key=lambda pair: -len(pair[0]),
        )

    # --- by id ---

    def township(self, township_id: str) -> Township | None:
        return self._townships.get(township_id)

    def village(self, village_id: str) -> Village | None:
        return self._villages.get(village_id)

    def grid(self, grid_id: str) -> Grid | None:
        return self._grids.get(grid_id)

    def chat_group(self, chat_group_id: str) -> ChatGroup | None:
        return self._chat_groups.get(chat_group_id)

    def officer(self, officer_id: str) -> Officer | None:
        return self._officers.get(officer_id)

    # --- by place ---

    def locate(self, lat: float, lon: float) -> Grid | None:
        """The grid containing the point; None outside the city.

        A point on a border shared by two grids belongs to the one listed first, so the answer
        never depends on the spatial index's internal order.
        """
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return self.grids[int(hits.min())]

    def match_township(self, address_text: str) -> Township | None:
        """The township whose name (or a known alias) occurs in the text, longest name first."""
        for name, township in self._township_names:
            if name in address_text:
                return township
        return None

    def match_village(self, address_text: str) -> Village | None:
        """Best-effort village or community named in free text, e.g. "宁国市中溪镇狮桥村三组".

        A full name ("狮桥村") anywhere in the text counts; a township named in the text narrows
        the candidates to its villages, and only then is the bare stem ("中溪镇狮桥三组") tried,
        because a two-character stem alone is too common to trust city-wide. Among several
        candidates the longest name wins, then the earliest in the text, then registry order.
        """
        township = self.match_township(address_text)
        candidates = [v for v in self.villages if v.name_zh in address_text]
        if township is not None:
            inside = [v for v in candidates if v.township_id == township.id]
            candidates = inside or candidates
            if not candidates:
                remainder = address_text.replace(township.name_zh, " ")
                candidates = [
                    v
                    for v in self.villages
                    if v.township_id == township.id and _stem(v.name_zh) in remainder
                ]
        if not candidates:
            return None
        position = {v.id: address_text.find(_stem(v.name_zh)) for v in candidates}
        return min(candidates, key=lambda v: (-len(v.name_zh), position[v.id]))

    # --- by area ---

    def grids_of(self, level: AreaLevel, ids: Sequence[str] | None = None) -> list[Grid]:
        """Grids in the named areas, in registry order, each once; "city" means every grid.

        Raises UnknownAreaError naming every id that is not an area of that level.
        """
        if level == "city":
            return list(self.grids)
        if ids is None:
            raise ValueError(f"ids are required for level {level!r}")
        if level == "grid":
            self._require("grid", ids, self._grids)
            return sorted({self._grids[i] for i in ids}, key=self._order)
        if level == "village":
            self._require("village", ids, self._villages)
            found = {g for i in ids for g in self._grids_by_village[i]}
        else:
            self._require("township", ids, self._townships)
            found = {g for i in ids for g in self._grids_by_township[i]}
        return sorted(found, key=self._order)

    def chat_groups_of_grids(self, grid_ids: Iterable[str]) -> list[ChatGroup]:
        """The chat groups of the given grids, in registry order."""
        grids = self.grids_of("grid", list(grid_ids))
        return [c for g in grids for c in self._groups_by_grid[g.id]]

    def chat_groups_of_area(
        self, level: AreaLevel, ids: Sequence[str] | None = None
    ) -> Sequence[ChatGroup]:
        """The chat groups of an area's grids (every one for the city), in registry order:
        who a one-click notice to the area reaches. Raises UnknownAreaError as `grids_of`."""
        if level == "city":
            return self.chat_groups
        return self.chat_groups_of_grids(g.id for g in self.grids_of(level, ids))

    def officers_of_grids(self, grid_ids: Iterable[str]) -> list[Officer]:
        grids = self.grids_of("grid", list(grid_ids))
        return [o for g in grids for o in self._officers_by_grid[g.id]]

    def households(self, grid_ids: Iterable[str] | None = None) -> Iterator[Household]:
        """Every household a chat group reaches (all grids when grid_ids is None), lazily.

        Generated on demand, not stored: 86,000 records would cost start-up time and memory for
        the few callers (a one-click notice to a grid) that need them.
        """
        groups = self.chat_groups if grid_ids is None else self.chat_groups_of_grids(grid_ids)
        for group in groups:
            first = self._first_household[group.id]
            stem = group.id.removeprefix("grp-")
            for n in range(group.households):
                digits = (first + n) * _CONTACT_MULTIPLIER % _CONTACT_MODULUS
                yield Household(
                    id=f"hh-{stem}-{n + 1:03d}",
                    grid_id=group.grid_id,
                    chat_group_id=group.id,
                    contact=f"{_CONTACT_PREFIX}{digits:08d}",
                )

    def fallback_owner(self, grid_id: str) -> str:
        """The department code of the grid's township government (see catalogue)."""
        grid = self._grids.get(grid_id)
        if grid is None:
            raise UnknownAreaError("grid", (grid_id,))
        # Township ids are the catalogue codes of the township governments by construction.
        return grid.township_id

    def summary(self) -> dict[str, int]:
        return {
            "townships": len(self.townships),
            "streets": sum(t.kind == "street" for t in self.townships),
            "towns": sum(t.kind == "town" for t in self.townships),
            "rural_townships": sum(t.kind == "township" for t in self.townships),
            "communities": sum(v.kind == "community" for v in self.villages),
            "villages": sum(v.kind == "village" for v in self.villages),
            "urban_grids": sum(g.kind == "urban" for g in self.grids),
            "rural_grids": sum(g.kind == "rural" for g in self.grids),
            "chat_groups": len(self.chat_groups),
            "officers": len(self.officers),
            "households": sum(g.households for g in self.grids),
            "covered_households": sum(c.households for c in self.chat_groups),
            "area_km2": round(area_km2(self.city)),
        }

    def _order(self, grid: Grid) -> int:
        return self._grid_order[grid.id]

    @staticmethod
    def _require(level: AreaLevel, ids: Iterable[str], known: Mapping[str, object]) -> None:
        unknown = tuple(dict.fromkeys(i for i in ids if i not in known))
        if unknown:
            raise UnknownAreaError(level, unknown)


def _stem(name_zh: str) -> str:
    for suffix in _VILLAGE_SUFFIXES:
        if name_zh.endswith(suffix):
            return name_zh[: -len(suffix)]
    return name_zh
