"""The city's residents and grid workers as a seeded plan of reports, one request each.

Pure: the same seed and configuration give the same plan, byte for byte, so a run can be
repeated. Places come from the shared registry and categories from the shared catalogue, the
same data a city publishes to its residents' apps; nothing here knows a service's internals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from gridloop_common.catalogue import CATEGORIES, Category, classify
from gridloop_common.registry import Registry
from gridloop_common.registry.model import Grid
from gridloop_simulator.config import SimulationConfig

CHAT_MENTION = "@居民助手"
# Phones of simulated residents (199 + the report's number): distinct per report, so an SMS
# tells which report it answers.
PHONE_PREFIX = "199"
# Residents' names (surname + two-character given name, from the report's number) and, in some
# hotline calls, an ID-card number the caller dictated: personal data the fault suite checks
# never reaches a log line, a metric or a parking reason.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = ("秀英", "桂兰", "建国", "志强", "海燕", "国平", "玉梅", "德明", "春生", "丽华")
ID_CARD_SHARE = 0.2


@dataclass(frozen=True)
class PlannedReport:
    """One request a resident or grid worker will make, and what kind of problem it is."""

    index: int
    key: str  # Idempotency-Key, also the simulator's name for the problem
    channel: str
    kind: str  # "new", "duplicate", "bad", "triage"
    path: str
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    # A malformed body sent as is (bad input), with its content type.
    raw: bytes | None = None
    retry_after_answer: bool = False
    repeats_key: str | None = None
    phone: str | None = None
    name: str | None = None
    id_card: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spot:
    """Where a problem is: a grid and a point inside it."""

    grid: Grid
    lat: float
    lon: float


class CityPlanner:
    """Draws places, categories and words for reports from one seeded random source."""

    def __init__(self, registry: Registry, config: SimulationConfig) -> None:
        self._registry = registry
        self._config = config
        self._rng = random.Random(config.seed)
        limit = config.max_complete_hours
        self._categories = [
            c
            for c in CATEGORIES
            if c.keywords and (limit is None or c.complete_within_hours <= limit)
        ]
        if not self._categories:
            raise ValueError("no catalogue category fits max_complete_hours")
        # Keywords that the shared classifier maps back to their own category, so a chat-group
        # text is routed where the resident meant it to go.
        self._keywords = {
            c.code: [k for k in c.keywords if _classifies_as(k, c)] or [c.name_zh]
            for c in self._categories
        }
        self._groups_by_grid: dict[str, list[str]] = {}
        for group in registry.chat_groups:
            self._groups_by_grid.setdefault(group.grid_id, []).append(group.id)
        self._workers_by_grid: dict[str, list[str]] = {}
        for officer in registry.officers:
            self._workers_by_grid.setdefault(officer.grid_id, []).append(officer.id)
        # Grids with a chat group (every grid has one in the registry, but do not rely on it).
        self._grids = [g for g in registry.grids if g.id in self._groups_by_grid]
        self._villages = {v.id: v for v in registry.villages}
        self._townships = {t.id: t for t in registry.townships}

    def plan(self) -> list[PlannedReport]:
        config = self._config
        channels = list(config.channels.weights().items())
        names = [name for name, _ in channels]
        weights = [weight for _, weight in channels]
        shares = config.residents
        plan: list[PlannedReport] = []
        originals: list[tuple[PlannedReport, Spot, Category]] = []
        for index in range(config.reports):
            key = f"sim-{config.seed}-{index:06d}"
            roll = self._rng.random()
            retried = self._rng.random() < shares.retried
            if roll < shares.bad_input:
                report = self._bad(index, key)
            elif roll < shares.bad_input + shares.duplicate and originals:
                original, spot, category = self._rng.choice(originals[-200:])
                report = self._duplicate(index, key, original, spot, category)
            elif roll < shares.bad_input + shares.duplicate + shares.needs_triage:
                report = self._needs_triage(index, key)
            else:
                channel = self._rng.choices(names, weights)[0]
                spot = self._spot()
                category = self._rng.choice(self._categories)
                report = self._new(index, key, channel, spot, category)
                if report.channel in ("native", "patrol", "open311"):
                    originals.append((report, spot, category))
            if retried and report.kind != "bad":
                report = replace(report, retry_after_answer=True)
            plan.append(report)
        return plan

    # --- kinds of report -----------------------------------------------------------------

    def _new(
        self, index: int, key: str, channel: str, spot: Spot, category: Category
    ) -> PlannedReport:
        words = self._description(category, spot)
        if channel == "chat_group":
            group = self._rng.choice(self._groups_by_grid[spot.grid.id])
            return PlannedReport(
                index,
                key,
                channel,
                "new",
                "/v1/channels/chat-group/messages",
                json={
                    "group_id": group,
                    "sender_id": f"wx-{self._rng.randrange(10**8):08d}",
                    "text": f"{CHAT_MENTION} {self._keyword(category)}了，在{spot.grid.name_zh}",
                    "message_id": f"msg-{key}",
                },
            )
        if channel == "patrol":
            worker = self._rng.choice(self._workers_by_grid[spot.grid.id])
            return PlannedReport(
                index,
                key,
                channel,
                "new",
                "/v1/channels/patrol/reports",
                json={
                    "worker_id": worker,
                    "category_code": category.code,
                    "description": words,
                    "location": {"lat": spot.lat, "lon": spot.lon},
                },
            )
        if channel == "hotline":
            phone, name = self._phone(index), self._name(index)
            id_card = self._id_card(index) if self._rng.random() < ID_CARD_SHARE else None
            if id_card is not None:
                words = f"{words}（来电人身份证号{id_card}）"
            return PlannedReport(
                index,
                key,
                channel,
                "new",
                "/v1/channels/hotline/calls",
                json={
                    "call_id": f"call-{key}",
                    "caller_phone": phone,
                    "caller_name": name,
                    "address_text": self._address(spot.grid),
                    "description": words,
                    "category_code": category.code,
                },
                phone=phone,
                name=name,
                id_card=id_card,
            )
        if channel == "open311":
            return PlannedReport(
                index,
                key,
                channel,
                "new",
                "/open311/v2/requests.json",
                form={
                    "api_key": "",  # filled in with the deployment's key when sent
                    "service_code": category.code,
                    "lat": f"{spot.lat:.6f}",
                    "long": f"{spot.lon:.6f}",
                    "description": words,
                    "last_name": self._name(index)[0],
                    "first_name": self._name(index)[1:],
                },
                name=self._name(index),
            )
        native_phone = self._phone(index) if self._rng.random() < 0.6 else None
        body: dict[str, Any] = {
            "category_code": category.code,
            "description": words,
            "location": {"lat": spot.lat, "lon": spot.lon},
        }
        if self._rng.random() < 0.3:
            body = {"grid_id": spot.grid.id, "category_code": category.code, "description": words}
        resident = None
        if native_phone is not None:
            resident = self._name(index)
            body["reporter"] = {"phone": native_phone, "name": resident}
        return PlannedReport(
            index, key, "native", "new", "/v1/reports", json=body, phone=native_phone, name=resident
        )

    def _duplicate(
        self, index: int, key: str, original: PlannedReport, spot: Spot, category: Category
    ) -> PlannedReport:
        # A few metres from the first report: inside every category's duplicate distance.
        near = Spot(spot.grid, spot.lat + self._rng.uniform(-2e-5, 2e-5), spot.lon)
        phone = self._phone(index) if self._rng.random() < 0.5 else None
        body: dict[str, Any] = {
            "category_code": category.code,
            "description": f"又一位居民反映：{self._description(category, near)}",
            "location": {"lat": near.lat, "lon": near.lon},
        }
        if phone is not None:
            body["reporter"] = {"phone": phone}
        return PlannedReport(
            index,
            key,
            "native",
            "duplicate",
            "/v1/reports",
            json=body,
            repeats_key=original.key,
            phone=phone,
        )

    def _needs_triage(self, index: int, key: str) -> PlannedReport:
        spot = self._spot()
        if self._rng.random() < 0.5:
            group = self._rng.choice(self._groups_by_grid[spot.grid.id])
            return PlannedReport(
                index,
                key,
                "chat_group",
                "triage",
                "/v1/channels/chat-group/messages",
                # No keyword of any category: the center must classify it by hand.
                json={
                    "group_id": group,
                    "sender_id": f"wx-{self._rng.randrange(10**8):08d}",
                    "text": f"{CHAT_MENTION} 这边有点情况想反映一下，编号{index}",
                    "message_id": f"msg-{key}",
                },
            )
        phone = self._phone(index)
        category = self._rng.choice(self._categories)
        return PlannedReport(
            index,
            key,
            "hotline",
            "triage",
            "/v1/channels/hotline/calls",
            # An address no registry name matches: unlocated, the center places it.
            json={
                "call_id": f"call-{key}",
                "caller_phone": phone,
                "address_text": "说不清楚，在老街那边",
                "description": self._description(category, spot),
                "category_code": category.code,
            },
            phone=phone,
        )

    def _bad(self, index: int, key: str) -> PlannedReport:
        spot = self._spot()
        category = self._rng.choice(self._categories)
        words = self._description(category, spot)
        choices: list[PlannedReport] = [
            PlannedReport(
                index,
                key,
                "native",
                "bad",
                "/v1/reports",
                json={
                    "grid_id": "grd-nowhere-000",
                    "category_code": category.code,
                    "description": words,
                },
            ),
            PlannedReport(
                index,
                key,
                "native",
                "bad",
                "/v1/reports",
                json={
                    "category_code": category.code,
                    "description": words,
                    "location": {"lat": 0.0, "lon": 0.0},
                },
            ),
            PlannedReport(
                index,
                key,
                "native",
                "bad",
                "/v1/reports",
                json={
                    "grid_id": spot.grid.id,
                    "category_code": "no-such-category",
                    "description": words,
                },
            ),
            PlannedReport(index, key, "native", "bad", "/v1/reports", raw=b'{"grid_id": "grd-'),
            PlannedReport(
                index,
                key,
                "chat_group",
                "bad",
                "/v1/channels/chat-group/messages",
                json={
                    "group_id": self._rng.choice(self._groups_by_grid[spot.grid.id]),
                    "sender_id": "wx-00000000",
                    "text": "今天天气不错",  # no mention of the assistant: not a report
                },
            ),
            PlannedReport(
                index,
                key,
                "open311",
                "bad",
                "/open311/v2/requests.json",
                form={"api_key": "not-a-key", "service_code": category.code, "description": words},
            ),
            PlannedReport(
                index,
                key,
                "hotline",
                "bad",
                "/v1/channels/hotline/calls",
                json={
                    "call_id": f"call-{key}",
                    "caller_phone": "not a phone",
                    "description": words,
                },
            ),
        ]
        return self._rng.choice(choices)

    # --- words and places ----------------------------------------------------------------

    def _spot(self) -> Spot:
        grid = self._rng.choice(self._grids)
        west, south, east, north = grid.polygon.bounds
        # Away from the edges: a point on a shared border belongs to the neighbour.
        lon = self._rng.uniform(west + (east - west) * 0.1, east - (east - west) * 0.1)
        lat = self._rng.uniform(south + (north - south) * 0.1, north - (north - south) * 0.1)
        return Spot(grid, round(lat, 6), round(lon, 6))

    def _keyword(self, category: Category) -> str:
        return self._rng.choice(self._keywords[category.code])

    def _description(self, category: Category, spot: Spot) -> str:
        return f"{self._keyword(category)}，{category.name_zh}，在{spot.grid.name_zh}，请尽快处理"

    def _address(self, grid: Grid) -> str:
        village = self._villages[grid.village_id]
        township = self._townships[grid.township_id]
        return f"宁国市{township.name_zh}{village.name_zh}{self._rng.randrange(1, 30)}号附近"

    def _phone(self, index: int) -> str:
        return f"{PHONE_PREFIX}{index:08d}"

    def _name(self, index: int) -> str:
        return SURNAMES[index % len(SURNAMES)] + GIVEN_NAMES[index // len(SURNAMES) % 10]

    def _id_card(self, index: int) -> str:
        """An 18-character resident ID of Ningguo (341881), born 1950-99, with its check digit."""
        body = (
            f"341881{1950 + index % 50}{1 + index % 12:02d}{1 + index % 28:02d}{index % 1000:03d}"
        )
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
        return body + check


def _classifies_as(keyword: str, category: Category) -> bool:
    found = classify(f"{keyword}了")
    return found is not None and found.code == category.code
