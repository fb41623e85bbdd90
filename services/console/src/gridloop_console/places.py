"""The registry as pages need it: names, the map, audiences (the registry is loaded once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gridloop_common.registry import Registry, UnknownAreaError, load_registry
from gridloop_common.registry.model import AreaLevel
from gridloop_console.city_map import CityMap


@dataclass(frozen=True)
class AudienceSize:
    chat_groups: int
    households: int


@dataclass(frozen=True)
class Places:
    registry: Registry
    townships: dict[str, str]  # id → Chinese name
    grids: dict[str, str]
    city_map: CityMap

    @classmethod
    def of_registry(cls) -> Places:
        registry = load_registry()
        return cls(
            registry=registry,
            townships={t.id: t.name_zh for t in registry.townships},
            grids={g.id: g.name_zh for g in registry.grids},
            city_map=CityMap.of_registry(registry),
        )

    def audience(self, level: AreaLevel, ids: Sequence[str]) -> AudienceSize | None:
        """Whom a notice to the area reaches, as notify counts them (a message per chat group,
        a text per household); None for an id the registry does not know."""
        try:
            groups = self.registry.chat_groups_of_area(level, list(ids))
        except (UnknownAreaError, ValueError):
            return None
        return AudienceSize(len(groups), sum(group.households for group in groups))
