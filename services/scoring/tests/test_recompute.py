"""When the recompute reads a month whole rather than entity by entity (a cost model)."""

from __future__ import annotations

from gridloop_scoring.levels import Level
from gridloop_scoring.recompute import read_whole_month

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
