"""Who a notice reaches: an area of the registry turned into chat groups and households."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from gridloop_common.registry import ChatGroup, Registry
from gridloop_notify.delivery import Recipient

Level = Literal["grid", "village", "township", "city"]


@dataclass(frozen=True)
class Audience:
    """`ids` are areas of `level`; the city has none."""

    level: Level
    ids: tuple[str, ...] = ()

    @classmethod
    def city(cls) -> Audience:
        return cls("city")

    def as_document(self) -> dict[str, object]:
        return {"level": self.level, "ids": list(self.ids)}

    @classmethod
    def from_document(cls, document: dict[str, object]) -> Audience:
        level = document["level"]
        ids = document.get("ids") or []
        assert level in ("grid", "village", "township", "city")
        assert isinstance(ids, list)
        return cls(level, tuple(str(i) for i in ids))


def chat_groups(registry: Registry, audience: Audience) -> Sequence[ChatGroup]:
    """The chat groups of the audience's grids, in registry order; raises UnknownAreaError."""
    return registry.chat_groups_of_area(audience.level, list(audience.ids))


def townships(registry: Registry, audience: Audience) -> frozenset[str] | None:
    """The townships the audience touches; None means the whole city."""
    if audience.level == "city":
        return None
    if audience.level == "township":
        registry.grids_of("township", list(audience.ids))  # validates the ids
        return frozenset(audience.ids)
    return frozenset(g.township_id for g in registry.grids_of(audience.level, list(audience.ids)))


def household_count(groups: Sequence[ChatGroup]) -> int:
    return sum(group.households for group in groups)


def chat_group_recipients(groups: Sequence[ChatGroup]) -> Iterator[Recipient]:
    """One message per group: the group id is both who is told and where it goes."""
    for group in groups:
        yield Recipient(recipient_id=group.id, address=group.id)


def household_recipients(registry: Registry, audience: Audience) -> Iterator[Recipient]:
    """Every household a chat group of the audience reaches, with its (synthetic) SMS contact."""
    grid_ids = (
        None
        if audience.level == "city"
        else [g.id for g in registry.grids_of(audience.level, list(audience.ids))]
    )
    for household in registry.households(grid_ids):
        yield Recipient(recipient_id=household.id, address=household.contact)
