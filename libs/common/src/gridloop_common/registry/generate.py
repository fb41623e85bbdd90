"""Builds the Ningguo registry from the real names and counts in places.py and a fixed seed."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry import box

from gridloop_common.registry.geo import KM_PER_DEG_LAT, KM_PER_DEG_LON, Rect, split_rect, split_two
from gridloop_common.registry.model import ChatGroup, Grid, Officer, Township, Village, VillageKind
from gridloop_common.registry.places import (
    AREA_KM2,
    CENTRE_LAT,
    CENTRE_LON,
    CHAT_GROUPS,
    COMMUNITY_FIRST,
    COMMUNITY_SECOND,
    COVERED_HOUSEHOLDS_AT_LEAST,
    OFFICERS,
    REAL_VILLAGES,
    RURAL_GRIDS,
    RURAL_HOUSEHOLDS,
    SEED,
    TOWNSHIPS,
    URBAN_GRIDS,
    URBAN_HOUSEHOLDS,
    VILLAGE_FIRST,
    VILLAGE_SECOND,
    Region,
    TownshipPlan,
)
from gridloop_common.registry.registry import Registry

# The city is a 50 km tall rectangle; Ningguo's real outline is irregular, only its area and
# position are kept. Urban grids are few and dense: a street gives its communities this share
# of its area per community, and its villages the rest.
_CITY_HEIGHT_KM = 50.0
_COMMUNITY_AREA_SHARE = 0.05
# Urban grids are large (300-500 households) and busy: each has two chat groups, some three.
_URBAN_GRIDS_WITH_THIRD_GROUP = 40


@dataclass(frozen=True, slots=True)
class _VillagePlan:
    id: str
    name_zh: str
    kind: VillageKind
    township: TownshipPlan
    grid_households: tuple[int, ...]


def _stream(seed: int, aspect: str) -> random.Random:
    # One stream per aspect: changing how names are drawn does not move a single grid.
    # Reproducible synthetic data, not secrets: a seeded PRNG is exactly what is wanted.
    return random.Random(f"{seed}:{aspect}")  # noqa: S311


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split total into integers proportional to weights, each at least minimum.

    Largest remainder method, ties to the earlier part: the sum is exactly total.
    """
    rest = total - minimum * len(weights)
    if rest < 0:
        raise ValueError("total is smaller than the minimum times the number of parts")
    weight_sum = math.fsum(weights)
    quotas = [rest * w / weight_sum for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: rest - sum(counts)]:
        counts[i] += 1
    return [minimum + c for c in counts]


def _short_name(name_zh: str) -> str:
    for suffix in ("畲族乡", "街道", "镇", "乡"):
        if name_zh.endswith(suffix):
            return name_zh[: -len(suffix)]
    return name_zh


def _draw_names(
    rng: random.Random, count: int, pools: tuple[str, str, str], taken: set[str]
) -> list[str]:
    first, second, suffix = pools
    forbidden = {_short_name(t.name_zh) for t in TOWNSHIPS}
    names: list[str] = []
    while len(names) < count:
        stem = rng.choice(first) + rng.choice(second)
        name = stem + suffix
        if stem[0] == stem[1] or stem in forbidden or name in taken:
            continue
        taken.add(name)
        names.append(name)
    return names


def _plan_villages(seed: int) -> list[_VillagePlan]:
    names_rng = _stream(seed, "names")
    sizes_rng = _stream(seed, "sizes")
    taken: set[str] = {name for names in REAL_VILLAGES.values() for name in names}
    # Where each village sits in the hierarchy and what it is called.
    slots: list[tuple[TownshipPlan, VillageKind, str]] = []
    for township in TOWNSHIPS:
        communities = _draw_names(
            names_rng, township.communities, (COMMUNITY_FIRST, COMMUNITY_SECOND, "社区"), taken
        )
        real = REAL_VILLAGES.get(township.slug, ())
        synthetic = _draw_names(
            names_rng, township.villages - len(real), (VILLAGE_FIRST, VILLAGE_SECOND, "村"), taken
        )
        slots += [(township, "community", name) for name in communities]
        slots += [(township, "village", name) for name in (*real, *synthetic)]

    urban = [i for i, slot in enumerate(slots) if slot[1] == "community"]
    rural = [i for i, slot in enumerate(slots) if slot[1] == "village"]
    grid_counts = [0] * len(slots)
    for members, total in ((urban, URBAN_GRIDS), (rural, RURAL_GRIDS)):
        weights = [sizes_rng.uniform(0.7, 1.3) for _ in members]
        for i, count in zip(members, apportion(total, weights, minimum=1), strict=True):
            grid_counts[i] = count

    plans: list[_VillagePlan] = []
    numbers: dict[str, int] = {}
    for (township, kind, name), count in zip(slots, grid_counts, strict=True):
        low, high = URBAN_HOUSEHOLDS if kind == "community" else RURAL_HOUSEHOLDS
        households = tuple(sizes_rng.randint(low, high) for _ in range(count))
        numbers[township.slug] = numbers.get(township.slug, 0) + 1
        village_id = f"vil-{township.slug}-{numbers[township.slug]:03d}"
        plans.append(_VillagePlan(village_id, name, kind, township, households))
    return plans


def _region_rects() -> tuple[Rect, dict[Region, Rect]]:
    """The city rectangle and its five regions, placed so the core is centred on the city seat."""
    area: dict[Region, float] = {}
    for township in TOWNSHIPS:
        area[township.region] = area.get(township.region, 0.0) + township.area_km2
    height = _CITY_HEIGHT_KM
    west, east = area["west"] / height, area["east"] / height
    middle = AREA_KM2 / height - west - east
    middle_area = area["north"] + area["core"] + area["south"]
    south, core = height * area["south"] / middle_area, height * area["core"] / middle_area
    lon0 = CENTRE_LON - (west + middle / 2) / KM_PER_DEG_LON
    lat0 = CENTRE_LAT - (south + core / 2) / KM_PER_DEG_LAT
    lon1 = lon0 + west / KM_PER_DEG_LON
    lon2 = lon1 + middle / KM_PER_DEG_LON
    lon3 = lon0 + AREA_KM2 / height / KM_PER_DEG_LON
    lat1 = lat0 + south / KM_PER_DEG_LAT
    lat2 = lat1 + core / KM_PER_DEG_LAT
    lat3 = lat0 + height / KM_PER_DEG_LAT
    regions: dict[Region, Rect] = {
        "west": (lon0, lat0, lon1, lat3),
        "east": (lon2, lat0, lon3, lat3),
        "south": (lon1, lat0, lon2, lat1),
        "core": (lon1, lat1, lon2, lat2),
        "north": (lon1, lat2, lon2, lat3),
    }
    return (lon0, lat0, lon3, lat3), regions


def _township_rects(regions: dict[Region, Rect]) -> dict[str, Rect]:
    rects: dict[str, Rect] = {}
    for region, region_rect in regions.items():
        members = [t for t in TOWNSHIPS if t.region == region]
        split = split_rect(region_rect, [t.area_km2 for t in members])
        rects.update({t.slug: r for t, r in zip(members, split, strict=True)})
    return rects


def _village_rects(township_rect: Rect, villages: list[_VillagePlan]) -> list[Rect]:
    """Villages tile their township: communities as one block facing the seat, villages around."""

    def weights(plans: list[_VillagePlan]) -> list[float]:
        return [float(sum(p.grid_households)) for p in plans]

    communities = [p for p in villages if p.kind == "community"]
    rural = [p for p in villages if p.kind == "village"]
    if not communities:
        return split_rect(township_rect, weights(rural))
    if not rural:
        return split_rect(township_rect, weights(communities))
    urban_block, rural_block = split_two(
        township_rect, _COMMUNITY_AREA_SHARE * len(communities), (CENTRE_LON, CENTRE_LAT)
    )
    return split_rect(urban_block, weights(communities)) + split_rect(rural_block, weights(rural))


def _chat_group_counts(grids: list[Grid], seed: int) -> list[int]:
    rng = _stream(seed, "groups")
    urban = [i for i, g in enumerate(grids) if g.kind == "urban"]
    rural = [i for i, g in enumerate(grids) if g.kind == "rural"]
    counts = [1] * len(grids)
    for i in urban:
        counts[i] = 2
    for i in rng.sample(urban, _URBAN_GRIDS_WITH_THIRD_GROUP):
        counts[i] = 3
    for i in rng.sample(rural, CHAT_GROUPS - sum(counts)):
        counts[i] = 2
    return counts


def _chat_groups(grids: list[Grid], seed: int) -> list[ChatGroup]:
    rng = _stream(seed, "coverage")
    per_grid = _chat_group_counts(grids, seed)
    # The seed: "覆盖服务居民群众8.6万余户" — a little over 86,000 households in the groups, so
    # about a third of each grid's households, which is what WeChat-group uptake looks like.
    covered_total = COVERED_HOUSEHOLDS_AT_LEAST + rng.randrange(100, 900)
    shares = [g.households * rng.uniform(0.2, 0.5) for g in grids]
    covered = apportion(covered_total, shares)
    groups: list[ChatGroup] = []
    for grid, count, grid_covered in zip(grids, per_grid, covered, strict=True):
        members = apportion(grid_covered, [rng.uniform(0.5, 1.5) for _ in range(count)], 1)
        for k, households in enumerate(members, start=1):
            suffix = "居民群" if count == 1 else f"居民{'一二三'[k - 1]}群"
            group_id = f"grp-{grid.id.removeprefix('grd-')}-{k}"
            groups.append(ChatGroup(group_id, grid.id, grid.name_zh + suffix, households))
    return groups


def _officers(grids: list[Grid]) -> list[Officer]:
    # Officers follow households: a 450-household urban grid needs more hands than a hamlet.
    counts = apportion(OFFICERS, [float(g.households) for g in grids], minimum=1)
    officers: list[Officer] = []
    for grid, count in zip(grids, counts, strict=True):
        stem = grid.id.removeprefix("grd-")
        officers.append(Officer(f"off-{stem}-01", grid.id, "grid_worker"))
        officers += [
            Officer(f"off-{stem}-{m:02d}", grid.id, "information_officer")
            for m in range(2, count + 1)
        ]
    return officers


def build_registry(seed: int = SEED) -> Registry:
    """Generate the whole registry; the same seed always gives equal records."""
    plans = _plan_villages(seed)
    city_rect, regions = _region_rects()
    township_rects = _township_rects(regions)

    townships = [
        Township(f"twp-{t.slug}", t.name_zh, t.kind, box(*township_rects[t.slug]))
        for t in TOWNSHIPS
    ]
    villages: list[Village] = []
    grids: list[Grid] = []
    for township in TOWNSHIPS:
        members = [p for p in plans if p.township is township]
        for plan, rect in zip(
            members, _village_rects(township_rects[township.slug], members), strict=True
        ):
            villages.append(
                Village(plan.id, plan.name_zh, f"twp-{township.slug}", plan.kind, box(*rect))
            )
            grid_rects = split_rect(rect, [float(h) for h in plan.grid_households])
            for n, (households, grid_rect) in enumerate(
                zip(plan.grid_households, grid_rects, strict=True), start=1
            ):
                grids.append(
                    Grid(
                        id=f"grd-{plan.id.removeprefix('vil-')}-{n:02d}",
                        name_zh=f"{plan.name_zh}第{n}网格",
                        village_id=plan.id,
                        township_id=f"twp-{township.slug}",
                        kind="urban" if plan.kind == "community" else "rural",
                        households=households,
                        polygon=box(*grid_rect),
                    )
                )
    return Registry(
        seed=seed,
        city=box(*city_rect),
        townships=tuple(townships),
        villages=tuple(villages),
        grids=tuple(grids),
        chat_groups=tuple(_chat_groups(grids, seed)),
        officers=tuple(_officers(grids)),
    )
