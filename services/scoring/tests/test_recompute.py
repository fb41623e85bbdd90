"""When the recompute reads a month whole rather than entity by entity, and when a mark is due
(a cost model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_scoring.levels import Level
from gridloop_scoring.recompute import due_at, read_whole_month

CITY: dict[Level, int] = {"grid": 2676, "village": 200, "township": 20, "department": 40}


def test_a_few_entities_are_read_one_by_one() -> None:
    marked = ["township:xijin", "department:city-mgmt", "grid:g-1", "village:v-1"]
    assert not read_whole_month(marked, CITY)


def test_a_whole_level_of_entities_reads_the_month_once() -> None:
    assert read_whole_month([f"township:t-{n}" for n in range(20)], CITY)
    assert not read_whole_month([f"township:t-{n}" for n in range(19)], CITY)


def test_shares_of_several_levels_add_up() -> None:
    marked = [f"township:t-{n}" for n in range(10)] + [f"department:d-{n}" for n in range(20)]
    assert read_whole_month(marked, CITY)


def test_people_and_levels_without_a_size_weigh_nothing() -> None:
    people = [f"handler:city-mgmt:h-{n}" for n in range(5_000)]
    people += [f"grid_worker:w-{n}" for n in range(5_000)]
    assert not read_whole_month(people, CITY)
    assert not read_whole_month([f"grid:g-{n}" for n in range(5_000)], {})


SECOND = timedelta(seconds=1)
NOW = datetime(2026, 12, 7, 8, 0, 10, 300_000, tzinfo=UTC)


def test_grids_and_people_wait_only_the_delay() -> None:
    for entity in ("grid:g-1", "handler:city-mgmt:h-1", "grid_worker:w-1"):
        assert due_at(entity, NOW, SECOND, 30 * SECOND, CITY) == NOW + SECOND


def test_areas_and_departments_wait_for_the_next_tick_every_replica_shares() -> None:
    tick = datetime(2026, 12, 7, 8, 0, 30, tzinfo=UTC)
    for entity in ("village:v-1", "township:xijin", "department:city-mgmt"):
        assert due_at(entity, NOW, SECOND, 30 * SECOND, CITY) == tick
    # Marked later within the same tick: due together.
    later = NOW + 15 * SECOND
    assert due_at("township:t-2", later, SECOND, 30 * SECOND, CITY) == tick


def test_a_mark_waits_its_delay_even_just_before_a_tick() -> None:
    just_before = datetime(2026, 12, 7, 8, 0, 29, 500_000, tzinfo=UTC)
    assert due_at("township:xijin", just_before, SECOND, 30 * SECOND, CITY) == datetime(
        2026, 12, 7, 8, 1, 0, tzinfo=UTC
    )


def test_no_gathering_without_a_tick_or_a_level_size() -> None:
    assert due_at("township:xijin", NOW, SECOND, timedelta(0), CITY) == NOW + SECOND
    assert due_at("township:xijin", NOW, SECOND, 30 * SECOND, {}) == NOW + SECOND
