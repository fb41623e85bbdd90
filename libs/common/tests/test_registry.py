"""The Ningguo registry: the seed's counts, consistent geometry, lookups, determinism."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter

import pytest
from shapely import STRtree

from gridloop_common.catalogue import DEPARTMENTS_BY_CODE
from gridloop_common.registry import (
    SEED,
    Registry,
    UnknownAreaError,
    area_km2,
    build_registry,
    load_registry,
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def test_counts_are_the_seed_articles(registry: Registry) -> None:
    summary = registry.summary()
    assert summary["urban_grids"] == 156
    assert summary["rural_grids"] == 2_520
    assert summary["chat_groups"] == 3_413
    assert summary["officers"] == 7_057
    assert summary["covered_households"] >= 86_000
    assert summary["townships"] == 19
    assert len(registry.grids) == 156 + 2_520


def test_grid_households_follow_the_urban_and_rural_standards(registry: Registry) -> None:
    for grid in registry.grids:
        low, high = (300, 500) if grid.kind == "urban" else (50, 100)
        assert low <= grid.households <= high, grid.id


def test_urban_grids_are_in_communities_of_streets_and_rural_grids_in_villages(
    registry: Registry,
) -> None:
    for grid in registry.grids:
        village = registry.village(grid.village_id)
        township = registry.township(grid.township_id)
        assert village is not None and township is not None
        assert village.township_id == township.id
        if grid.kind == "urban":
            assert (village.kind, township.kind) == ("community", "street")
        else:
            assert village.kind == "village"


def test_every_grid_has_a_chat_group_and_an_officer(registry: Registry) -> None:
    groups = Counter(c.grid_id for c in registry.chat_groups)
    officers = Counter(o.grid_id for o in registry.officers)
    assert set(groups) == set(officers) == {g.id for g in registry.grids}
    assert any(n >= 2 for n in groups.values())
    workers = Counter(o.grid_id for o in registry.officers if o.role == "grid_worker")
    assert set(workers.values()) == {1}


def test_chat_groups_never_cover_more_households_than_their_grid(registry: Registry) -> None:
    covered: Counter[str] = Counter()
    for group in registry.chat_groups:
        assert group.households >= 1
        covered[group.grid_id] += group.households
    for grid in registry.grids:
        assert covered[grid.id] <= grid.households, grid.id


def test_ids_are_readable_and_unique(registry: Registry) -> None:
    patterns = [
        ([t.id for t in registry.townships], r"twp-[a-z]+"),
        ([v.id for v in registry.villages], r"vil-[a-z]+-\d{3}"),
        ([g.id for g in registry.grids], r"grd-[a-z]+-\d{3}-\d{2}"),
        ([c.id for c in registry.chat_groups], r"grp-[a-z]+-\d{3}-\d{2}-\d"),
        ([o.id for o in registry.officers], r"off-[a-z]+-\d{3}-\d{2}-\d{2}"),
    ]
    for ids, pattern in patterns:
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(pattern, i) for i in ids), pattern
    names = [v.name_zh for v in registry.villages]
    assert len(set(names)) == len(names)


def test_real_names_are_used_for_townships_and_the_seed_village(registry: Registry) -> None:
    names = {t.name_zh for t in registry.townships}
    assert {"西津街道", "河沥溪街道", "汪溪街道", "南山街道", "中溪镇", "港口镇"} <= names
    assert {"云梯畲族乡", "方塘乡", "万家乡", "青龙乡"} <= names
    shiqiao = [v for v in registry.villages if v.name_zh == "狮桥村"]
    assert len(shiqiao) == 1
    township = registry.township(shiqiao[0].township_id)
    assert township is not None and township.name_zh == "中溪镇"


def test_every_polygon_lies_inside_its_parent(registry: Registry) -> None:
    for township in registry.townships:
        assert township.polygon.within(registry.city)
    for village in registry.villages:
        parent = registry.township(village.township_id)
        assert parent is not None
        assert village.polygon.within(parent.polygon), village.id
    for grid in registry.grids:
        grid_village = registry.village(grid.village_id)
        grid_township = registry.township(grid.township_id)
        assert grid_village is not None and grid_township is not None
        assert grid.polygon.within(grid_village.polygon), grid.id
        assert grid.polygon.within(grid_township.polygon), grid.id


@pytest.mark.parametrize("level", ["townships", "villages", "grids"])
def test_no_two_areas_of_a_level_overlap(registry: Registry, level: str) -> None:
    polygons = [r.polygon for r in getattr(registry, level)]
    tree = STRtree(polygons)
    pairs = tree.query(polygons, predicate="intersects")
    for a, b in zip(*pairs, strict=True):
        if a < b:
            assert polygons[a].intersection(polygons[b]).area == 0.0, (a, b)


def test_grids_tile_the_city(registry: Registry) -> None:
    # No overlap (above) and areas adding up to the city's mean no gap either.
    assert sum(g.polygon.area for g in registry.grids) == pytest.approx(
        registry.city.area, rel=1e-9
    )


def test_city_is_where_ningguo_is_and_about_its_size(registry: Registry) -> None:
    assert area_km2(registry.city) == pytest.approx(2_487, rel=0.10)
    centre = registry.city.centroid
    assert abs(centre.y - 30.63) < 0.3
    assert abs(centre.x - 118.98) < 0.3
    seat = registry.locate(30.62667, 118.98611)
    assert seat is not None and seat.kind == "urban"


def test_locate_finds_each_grid_from_a_point_inside_it(registry: Registry) -> None:
    for grid in registry.grids:
        point = grid.polygon.representative_point()
        found = registry.locate(point.y, point.x)
        assert found is not None and found.id == grid.id


@pytest.mark.parametrize(
    ("lat", "lon"), [(39.9, 116.4), (30.63, 120.5), (0.0, 0.0), (float("nan"), 118.98)]
)
def test_locate_outside_the_city_is_none(registry: Registry, lat: float, lon: float) -> None:
    assert registry.locate(lat, lon) is None


def test_lookups_by_id_return_none_when_unknown(registry: Registry) -> None:
    grid = registry.grids[0]
    assert registry.grid(grid.id) == grid
    assert registry.grid("grd-nowhere-001-01") is None
    assert registry.village("vil-nowhere-001") is None
    assert registry.township("twp-nowhere") is None
    assert registry.chat_group("grp-nowhere") is None
    assert registry.officer("off-nowhere") is None
    group = registry.chat_groups[0]
    assert registry.chat_group(group.id) == group
    officer = registry.officers[-1]
    assert registry.officer(officer.id) == officer


def test_grids_of_each_level(registry: Registry) -> None:
    assert len(registry.grids_of("city")) == 2_676
    shiqiao = next(v for v in registry.villages if v.name_zh == "狮桥村")
    in_village = registry.grids_of("village", [shiqiao.id])
    assert in_village and all(g.village_id == shiqiao.id for g in in_village)
    in_township = registry.grids_of("township", ["twp-zhongxi", "twp-xijin"])
    assert {g.township_id for g in in_township} == {"twp-zhongxi", "twp-xijin"}
    assert set(in_village) <= set(in_township)
    two = [registry.grids[5].id, registry.grids[1].id, registry.grids[5].id]
    assert [g.id for g in registry.grids_of("grid", two)] == [
        registry.grids[1].id,
        registry.grids[5].id,
    ]


def test_grids_of_unknown_ids_names_them(registry: Registry) -> None:
    with pytest.raises(UnknownAreaError) as raised:
        registry.grids_of("township", ["twp-xijin", "twp-atlantis"])
    assert raised.value.ids == ("twp-atlantis",)
    with pytest.raises(ValueError, match="ids are required"):
        registry.grids_of("village")


def test_chat_groups_of_grids(registry: Registry) -> None:
    grid_ids = [g.id for g in registry.grids[:3]]
    groups = registry.chat_groups_of_grids(grid_ids)
    assert {c.grid_id for c in groups} == set(grid_ids)
    assert groups == [c for c in registry.chat_groups if c.grid_id in grid_ids]


def test_households_are_synthetic_unique_and_cover_at_least_86000(registry: Registry) -> None:
    households = list(registry.households())
    assert len(households) == registry.summary()["covered_households"] >= 86_000
    assert len({h.id for h in households}) == len(households)
    assert len({h.contact for h in households}) == len(households)
    for household in itertools.islice(households, 0, None, 997):
        assert re.fullmatch(r"\+86-000-\d{8}", household.contact)
        assert not re.search(r"1[3-9]\d{9}", household.contact)


def test_households_of_a_grid_match_its_chat_groups(registry: Registry) -> None:
    grid = registry.grids[42]
    households = list(registry.households([grid.id]))
    groups = registry.chat_groups_of_grids([grid.id])
    assert len(households) == sum(c.households for c in groups)
    assert {h.chat_group_id for h in households} == {c.id for c in groups}
    assert households == list(registry.households([grid.id]))
    everyone = {h.id: h for h in registry.households()}
    assert all(everyone[h.id] == h for h in households)


def test_fallback_owner_is_the_township_government(registry: Registry) -> None:
    for grid in registry.grids[::97]:
        owner = DEPARTMENTS_BY_CODE[registry.fallback_owner(grid.id)]
        township = registry.township(grid.township_id)
        assert township is not None
        assert owner.kind == "township"
        assert owner.name_zh.startswith(township.name_zh)
    with pytest.raises(UnknownAreaError):
        registry.fallback_owner("grd-nowhere-001-01")


@pytest.mark.parametrize(
    ("text", "village", "township"),
    [
        ("宁国市中溪镇狮桥村三组", "狮桥村", "中溪镇"),
        ("狮桥村石牌村民组新风堂旁边", "狮桥村", "中溪镇"),
        ("中溪镇狮桥鸦雀坞组", "狮桥村", "中溪镇"),
    ],
)
def test_match_village_in_sample_addresses(
    registry: Registry, text: str, village: str, township: str
) -> None:
    found = registry.match_village(text)
    assert found is not None and found.name_zh == village
    parent = registry.township(found.township_id)
    assert parent is not None and parent.name_zh == township


def test_match_village_finds_generated_names_in_free_text(registry: Registry) -> None:
    for village in registry.villages[::7]:
        township = registry.township(village.township_id)
        assert township is not None
        text = f"安徽省宁国市{township.name_zh}{village.name_zh}第2网格门口"
        assert registry.match_village(text) == village
        assert registry.match_village(f"{village.name_zh}附近") == village


def test_match_village_without_a_village_name_is_none_but_the_township_is_found(
    registry: Registry,
) -> None:
    assert registry.match_village("宁国市云梯乡政府对面") is None
    township = registry.match_township("宁国市云梯乡政府对面")
    assert township is not None and township.id == "twp-yunti"
    assert registry.match_village("北京市朝阳区") is None
    assert registry.match_township("北京市朝阳区") is None


def test_two_builds_are_equal() -> None:
    first, second = build_registry(SEED), build_registry(SEED)
    assert first.townships == second.townships
    assert first.villages == second.villages
    assert first.grids == second.grids
    assert first.chat_groups == second.chat_groups
    assert first.officers == second.officers
    assert list(first.households()) == list(second.households())


def test_another_seed_gives_another_registry_with_the_same_counts() -> None:
    other = build_registry(SEED + 1)
    assert other.grids != load_registry().grids
    assert other.summary()["chat_groups"] == 3_413
    assert other.summary()["officers"] == 7_057


def test_building_takes_well_under_two_seconds() -> None:
    started = time.perf_counter()
    build_registry(SEED)
    assert time.perf_counter() - started < 1.0


def test_load_registry_is_cached() -> None:
    assert load_registry() is load_registry()
