"""What the registry takes from the real Ningguo: names, counts and where the city lies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TownshipKind = Literal["street", "town", "township"]
Region = Literal["core", "north", "south", "west", "east"]

# Counts from the seed article (宁国市:推深做实"多网合一", 2022-02-07).
URBAN_GRIDS = 156
RURAL_GRIDS = 2_520
CHAT_GROUPS = 3_413
OFFICERS = 7_057
COVERED_HOUSEHOLDS_AT_LEAST = 86_000
URBAN_HOUSEHOLDS = (300, 500)
RURAL_HOUSEHOLDS = (50, 100)

# Where Ningguo is: the city seat at 30°37'36"N 118°59'10"E, 2,487 km² in all.
CENTRE_LAT = 30.62667
CENTRE_LON = 118.98611
AREA_KM2 = 2_487.0

# The article's publication date: any fixed number would do, this one is easy to trace.
SEED = 20_220_207


@dataclass(frozen=True, slots=True)
class TownshipPlan:
    """One real township-level unit, with the synthetic layout numbers the generator needs."""

    slug: str
    name_zh: str
    kind: TownshipKind
    region: Region
    area_km2: float
    communities: int
    villages: int


# Real names: the 19 township-level units of Wikipedia's 2018 list (6 streets, 8 towns,
# 5 townships, 云梯 an ethnic She township). Later mergers, if any, are not reflected.
# Region, area and the number of communities/villages are ours: plausible, not surveyed.
# The areas add up to the city's 2,487 km²; the streets, where the urban grids are, form the
# core around the city seat.
TOWNSHIPS: tuple[TownshipPlan, ...] = (
    # Order matters: within a region, townships are laid out in this order. The first three
    # streets weigh as much as the last three, so the core's first cut runs through the city
    # seat and every street touches it with its community side: the seat is urban.
    TownshipPlan("xijin", "西津街道", "street", "core", 70, 7, 4),
    TownshipPlan("wangxi", "汪溪街道", "street", "core", 60, 3, 6),
    TownshipPlan("tianhu", "天湖街道", "street", "core", 35, 3, 4),
    TownshipPlan("helixi", "河沥溪街道", "street", "core", 65, 6, 5),
    TownshipPlan("nanshan", "南山街道", "street", "core", 55, 3, 5),
    TownshipPlan("zhufeng", "竹峰街道", "street", "core", 45, 2, 6),
    TownshipPlan("gangkou", "港口镇", "town", "north", 200, 0, 12),
    TownshipPlan("meilin", "梅林镇", "town", "north", 160, 0, 10),
    TownshipPlan("zhongxi", "中溪镇", "town", "south", 210, 0, 9),
    TownshipPlan("fangtang", "方塘乡", "township", "south", 130, 0, 5),
    TownshipPlan("ningdun", "宁墩镇", "town", "west", 190, 0, 8),
    TownshipPlan("xiaxi", "霞西镇", "town", "west", 180, 0, 8),
    TownshipPlan("hule", "胡乐镇", "town", "west", 200, 0, 9),
    TownshipPlan("jialu", "甲路镇", "town", "west", 150, 0, 6),
    TownshipPlan("nanji", "南极乡", "township", "west", 110, 0, 4),
    TownshipPlan("wanjia", "万家乡", "township", "east", 130, 0, 5),
    TownshipPlan("qinglong", "青龙乡", "township", "east", 160, 0, 4),
    TownshipPlan("yunti", "云梯畲族乡", "township", "east", 137, 0, 5),
    TownshipPlan("xianxia", "仙霞镇", "town", "east", 200, 0, 8),
)

# The one village the seed names (中溪镇狮桥村, of the "六民六步" method); it keeps its real name.
REAL_VILLAGES: dict[str, tuple[str, ...]] = {"zhongxi": ("狮桥村",)}

# Other village and community names are synthetic: two characters drawn from pools common in
# southern Anhui place names, so they read plausibly but name no real place on purpose.
VILLAGE_FIRST = "石竹松桃杨柳枫青白红金龙凤鹤云黄高长双三五千花茶栗桂杉柏兰溪塔岩"
VILLAGE_SECOND = "山岭坑塘湾田坞冲铺岗源坪庄川林亭口门岩潭垅畈坦湖"
COMMUNITY_FIRST = "东西南北新津宁阳翠兰福安和康华锦文城滨春秀"
COMMUNITY_SECOND = "城门苑园安平湖阳山桥兴盛泰康秀庭景华"

# Other spellings residents use for a township in free text (hotline addresses).
TOWNSHIP_ALIASES: dict[str, tuple[str, ...]] = {"yunti": ("云梯乡",)}
