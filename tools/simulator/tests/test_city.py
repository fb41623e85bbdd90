"""The planned city: seeded, spread over the registry, each kind of report as its share says."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gridloop_common.catalogue import CATEGORIES_BY_CODE, classify
from gridloop_common.registry import load_registry
from gridloop_simulator.city import CHAT_MENTION, CityPlanner, PlannedReport
from gridloop_simulator.config import SimulationConfig

REGISTRY = load_registry()


def plan(**config: Any) -> list[PlannedReport]:
    return CityPlanner(REGISTRY, SimulationConfig(**config)).plan()


def test_the_same_seed_plans_the_same_city_and_another_seed_another() -> None:
    assert plan(reports=300, seed=3) == plan(reports=300, seed=3)
    assert plan(reports=300, seed=3) != plan(reports=300, seed=4)


def test_every_report_has_its_own_idempotency_key() -> None:
    keys = [p.key for p in plan(reports=2_000)]
    assert len(set(keys)) == len(keys)


def test_the_shares_of_bad_duplicate_and_retried_reports_are_roughly_as_configured() -> None:
    reports = plan(reports=4_000, seed=11)
    kinds = Counter(p.kind for p in reports)
    assert 0.02 * 4_000 < kinds["bad"] < 0.04 * 4_000
    assert 0.04 * 4_000 < kinds["duplicate"] < 0.06 * 4_000
    retried = sum(p.retry_after_answer for p in reports)
    assert 0.04 * 4_000 < retried < 0.06 * 4_000
    assert not any(p.retry_after_answer for p in reports if p.kind == "bad")


def test_every_channel_is_used() -> None:
    channels = Counter(p.channel for p in plan(reports=1_000))
    assert set(channels) == {"native", "chat_group", "patrol", "hotline", "open311"}


def test_points_lie_inside_the_registry_grid_they_were_drawn_from() -> None:
    for planned in plan(reports=500):
        body = planned.json or {}
        location = body.get("location")
        if planned.kind == "new" and location:
            grid = REGISTRY.locate(location["lat"], location["lon"])
            assert grid is not None


def test_a_chat_group_text_classifies_as_the_category_the_resident_meant() -> None:
    texts = [
        p.json["text"]
        for p in plan(reports=1_000)
        if p.channel == "chat_group" and p.kind == "new" and p.json
    ]
    assert texts
    for text in texts:
        assert text.startswith(CHAT_MENTION)
        assert classify(text.removeprefix(CHAT_MENTION)) is not None


def test_a_duplicate_names_an_earlier_report_and_lies_beside_it() -> None:
    reports = plan(reports=2_000, seed=5)
    by_key = {p.key: p for p in reports}
    duplicates = [p for p in reports if p.kind == "duplicate"]
    assert duplicates
    for duplicate in duplicates:
        original = by_key[duplicate.repeats_key or ""]
        assert original.index < duplicate.index
        assert duplicate.json and duplicate.json["category_code"] == _category(original)


def test_categories_can_be_limited_to_short_completion_limits() -> None:
    for planned in plan(reports=500, max_complete_hours=24):
        code = _category(planned)
        if code and code in CATEGORIES_BY_CODE and planned.kind == "new":
            assert CATEGORIES_BY_CODE[code].complete_within_hours <= 24


def test_simulated_phone_numbers_are_distinct_per_report() -> None:
    phones = [p.phone for p in plan(reports=2_000) if p.phone]
    assert len(set(phones)) == len(phones)


def _category(planned: PlannedReport) -> str | None:
    code = (planned.json or {}).get("category_code") or (planned.form or {}).get("service_code")
    return None if code is None else str(code)
