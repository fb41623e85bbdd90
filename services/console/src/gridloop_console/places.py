"""Names of the registry's townships and grids, for pages (the registry is loaded once)."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.registry import load_registry


@dataclass(frozen=True)
class Places:
    townships: dict[str, str]  # id → Chinese name
    grids: dict[str, str]

    @classmethod
    def of_registry(cls) -> Places:
        registry = load_registry()
        return cls(
            townships={t.id: t.name_zh for t in registry.townships},
            grids={g.id: g.name_zh for g in registry.grids},
        )
