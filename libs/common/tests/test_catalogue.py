"""The department catalogue: city units and townships, time limits, keyword classification."""

# Residents type full-width Chinese punctuation; the test messages keep it on purpose.

from __future__ import annotations

import re

import pytest

from gridloop_common.catalogue import (
    CATEGORIES,
    CATEGORIES_BY_CODE,
    DEPARTMENTS,
    DEPARTMENTS_BY_CODE,
    UNCLASSIFIED,
    classify,
)
from gridloop_common.registry import load_registry

LIMIT_BANDS = {24, 72, 120, 168, 360}


def test_catalogue_has_at_least_twenty_city_units_and_every_township_government() -> None:
    city_units = [d for d in DEPARTMENTS if d.kind == "city_unit"]
    townships = {d.code for d in DEPARTMENTS if d.kind == "township"}
    assert len(city_units) >= 20
    assert townships == {t.id for t in load_registry().townships}


def test_township_governments_are_named_after_their_township() -> None:
    for township in load_registry().townships:
        assert DEPARTMENTS_BY_CODE[township.id].name_zh.startswith(township.name_zh)


def test_codes_are_unique_and_lowercase_hyphenated() -> None:
    assert len(DEPARTMENTS_BY_CODE) == len(DEPARTMENTS)
    assert len(CATEGORIES_BY_CODE) == len(CATEGORIES)
    for code in [*DEPARTMENTS_BY_CODE, *CATEGORIES_BY_CODE]:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), code
    assert UNCLASSIFIED not in CATEGORIES_BY_CODE


def test_at_least_sixty_categories_each_owned_by_a_known_city_unit() -> None:
    assert len(CATEGORIES) >= 60
    for category in CATEGORIES:
        assert DEPARTMENTS_BY_CODE[category.department].kind == "city_unit", category.code
        assert category.complete_within_hours in LIMIT_BANDS, category.code
        assert len(category.keywords) >= 3, category.code
        assert category.name_zh


def test_codes_the_skeleton_loop_depends_on_are_kept() -> None:
    expected = {
        "road-damage": ("city-mgmt", 72),
        "garbage": ("city-mgmt", 24),
        "illegal-building": ("housing", 168),
        "pollution": ("ecology", 72),
        "flooding": ("water", 24),
        "bus-stop": ("transport", 120),
    }
    for code, (department, hours) in expected.items():
        category = CATEGORIES_BY_CODE[code]
        assert (category.department, category.complete_within_hours) == (department, hours)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("小区门口路灯坏了好几天", "street-light"),
        ("@居民助手 我们小区门口没有路灯，希望安装路灯", "street-light-install"),
        ("楼下的井盖不见了，晚上走路很危险", "manhole-cover"),
        ("菜市场门口天天有人占道经营摆摊", "street-vending"),
        ("下大雨道路积水很深，车都过不去", "flooding"),
        ("家里停电一整天了，什么时候来电", "power-outage"),
        ("楼道里闻到很重的煤气味，是不是燃气泄漏了", "gas-leak"),
        ("野猪下山拱庄稼，玉米全毁了", "wildlife"),
        ("老板拖欠工资三个月了", "wage-arrears"),
        ("工地半夜施工噪音太大，吵得睡不着", "construction-noise"),
        ("有人在楼道里飞线充电，太危险了", "fire-hazard"),
        ("对面山上冒烟了，好像着火了", "forest-fire"),
        ("电梯困人了，快来人", "elevator-fault"),
        ("自来水发黄，不敢喝", "water-quality"),
        ("一条流浪狗咬了小孩", "dog-control"),
        ("隔壁在屋顶私搭乱建", "illegal-building"),
        ("有人在田里烧秸秆，烟很大", "open-burning"),
        ("通往组里的村道塌了一大块", "rural-road"),
        ("垃圾桶满了好几天没人清理", "garbage"),
        ("河水发黑发臭，还有死鱼", "water-pollution"),
    ],
)
def test_resident_messages_classify_to_the_right_category(text: str, expected: str) -> None:
    category = classify(text)
    assert category is not None
    assert category.code == expected


@pytest.mark.parametrize("text", ["asdfghjkl", "今天天气真好哈哈", "123456", "", "   ", "👍👍👍"])
def test_text_without_keywords_is_left_unclassified(text: str) -> None:
    assert classify(text) is None


def test_classification_is_deterministic_and_ignores_spacing() -> None:
    text = "小区 门口 路灯 坏了"
    assert classify(text) == classify(text.replace(" ", "")) == classify(text)


def test_ties_go_to_the_more_urgent_category() -> None:
    # "道路" (road damage, 72 h) and "积水" (flooding, 24 h) cover two characters each.
    category = classify("道路积水")
    assert category is not None
    assert category.code == "flooding"


def test_no_keyword_is_shared_between_categories_or_a_single_character() -> None:
    seen: dict[str, str] = {}
    for category in CATEGORIES:
        for keyword in category.keywords:
            assert len(keyword) >= 2, (category.code, keyword)
            assert seen.setdefault(keyword, category.code) == category.code, keyword
