"""The Ningguo grid registry: real names and counts, synthetic geometry, generated at load time."""

from __future__ import annotations

import functools

from gridloop_common.registry.generate import build_registry
from gridloop_common.registry.geo import area_km2
from gridloop_common.registry.model import (
    AreaLevel,
    ChatGroup,
    Grid,
    GridKind,
    Household,
    Officer,
    OfficerRole,
    Township,
    UnknownAreaError,
    Village,
    VillageKind,
)
from gridloop_common.registry.places import SEED, TownshipKind
from gridloop_common.registry.registry import Registry

__all__ = [
    "SEED",
    "AreaLevel",
    "ChatGroup",
    "Grid",
    "GridKind",
    "Household",
    "Officer",
    "OfficerRole",
    "Registry",
    "Township",
    "TownshipKind",
    "UnknownAreaError",
    "Village",
    "VillageKind",
    "area_km2",
    "build_registry",
    "load_registry",
]


@functools.cache
def load_registry() -> Registry:
    """The registry for the fixed seed, built once per process (about a tenth of a second)."""
    return build_registry(SEED)
