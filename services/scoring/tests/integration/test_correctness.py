"""scoring's figures are right: a few hundred generated case life cycles, with duplicates,
redeliveries and late events, through the real broker; the incremental figures must equal an
independent computation from the life cycles themselves, and equal a full rebuild.

The expected figures are computed here from the stories (lifecycles.py), following the README's
definitions, without scoring's own fact folding or figure rules.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from gridloop_common.contracts import (
    Message,
)
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Client
from gridloop_common.periods import month_key, quarter_key, year_key
from gridloop_common.registry import Grid
from gridloop_common.testing.fixtures import Isolated
from gridloop_scoring.__main__ import run_rebuild
from gridloop_scoring.facts import Fact
from gridloop_scoring.levels import LEVEL_METRICS, Level
from gridloop_scoring.subscriptions import SCORED

from .conftest import Scoring, running_scoring, scoring_settings
from .lifecycles import SEED, OrderStory, World, generate

pytestmark = pytest.mark.integration

LIFE_CYCLES = 300
# Every type scoring consumes: the deliveries to wait for.
TYPES: tuple[type[Message], ...] = SCORED
COUNTS = ("reported", "dispatched", "handled", "reopens", "breaches")
MEDIANS = ("median_accept_seconds", "median_complete_seconds")
# Ranked smallest first: fewer is better.
FEWER_IS_BETTER = frozenset({"reopens", "breaches", *MEDIANS})
RANKINGS: tuple[tuple[Level, str, str], ...] = (
    ("department", "on_time_completion_rate", "2026-Q4"),
    ("department", "dispatched", "2026-09"),
    ("handler", "handled", "2026-11"),
    ("handler", "resolution_rate", "2026-Q4"),
    ("handler", "satisfaction_rate", "2026-12"),
    ("department", "completion_rate", "2027-Q1"),
    ("grid", "median_complete_seconds", "2026-Q3"),
    ("village", "satisfaction_rate", "2026-12"),
    ("township", "breaches", "2026-10"),
    ("grid_worker", "reported", "2026"),
    ("grid_worker", "handled", "2026-Q4"),
)

Entity = tuple[Level, str]
FigureKey = tuple[Level, str, str]


# --- the independent computation ---


@dataclass
class Tally:
    """One entity's figures in one period, straight from the README's definitions."""

    counts: Counter[str] = field(default_factory=Counter)
    numerators: Counter[str] = field(default_factory=Counter)
    denominators: Counter[str] = field(default_factory=Counter)
    accept_seconds: list[float] = field(default_factory=list)
    complete_seconds: list[float] = field(default_factory=list)

    def add_order(self, order: OrderStory) -> None:
        """One order dispatched in the period, as it stands now."""
        self.denominators["acceptance_rate"] += 1
        self.denominators["on_time_acceptance_rate"] += 1
        if order.accepted_at is not None:
            self.numerators["acceptance_rate"] += 1
            self.numerators["on_time_acceptance_rate"] += accepted_on_time(order)
            self.denominators["completion_rate"] += 1
            self.numerators["completion_rate"] += order.completed_at is not None
            self.accept_seconds.append(seconds(order.accepted_at, order.dispatched_at))
        if order.completed_at is not None:
            self.denominators["on_time_completion_rate"] += 1
            self.numerators["on_time_completion_rate"] += completed_on_time(order)
            if order.completes_case:
                self.denominators["resolution_rate"] += 1
                self.numerators["resolution_rate"] += order.satisfied is True
            self.complete_seconds.append(seconds(order.completed_at, order.dispatched_at))
        if order.satisfied is not None:
            self.denominators["satisfaction_rate"] += 1
            self.numerators["satisfaction_rate"] += order.satisfied

    def metric(self, name: str) -> dict[str, Any]:
        """The metric as GET /v1/entities shows it."""
        if name in COUNTS:
            return {"value": self.counts[name]}
        if name in MEDIANS:
            samples = self.accept_seconds if name == MEDIANS[0] else self.complete_seconds
            return {
                "value": statistics.median(samples) if samples else None,
                "orders": len(samples),
            }
        numerator, denominator = self.numerators[name], self.denominators[name]
        return {
            "value": numerator / denominator if denominator else None,
            "numerator": numerator,
            "denominator": denominator,
        }

    def metrics(self, level: Level) -> dict[str, dict[str, Any]]:
        return {name: self.metric(name) for name in LEVEL_METRICS[level]}


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def accepted_on_time(order: OrderStory) -> bool:
    # sla-monitor's verdict where it gave one, else the accept-by the dispatch set.
    assert order.accepted_at is not None
    if order.accept_verdict is not None:
        return order.accept_verdict == "met"
    return order.accepted_at <= order.accept_by


def completed_on_time(order: OrderStory) -> bool:
    # sla-monitor's verdict where it gave one, else the latest complete-by after extensions.
    assert order.completed_at is not None
    if order.complete_verdict is not None:
        return order.complete_verdict == "met"
    return order.completed_at <= order.complete_by


def periods(when: datetime) -> tuple[str, str, str]:
    """The Asia/Shanghai month, quarter and year of a moment."""
    return month_key(when), quarter_key(when), year_key(when)


def places(grid: Grid) -> list[Entity]:
    return [("grid", grid.id), ("village", grid.village_id), ("township", grid.township_id)]


def expected_figures(world: World) -> dict[FigureKey, Tally]:
    tallies: dict[FigureKey, Tally] = defaultdict(Tally)

    def count(entities: Iterable[Entity], when: datetime, metric: str) -> None:
        for level, entity_id in entities:
            for period in periods(when):
                tallies[(level, entity_id, period)].counts[metric] += 1

    for lifecycle in world.lifecycles:
        report = lifecycle.report
        # Only a patrol report is the grid worker's own; a chat-group one is a resident's.
        reporter: list[Entity] = (
            [("grid_worker", report.worker_id)]
            if report.channel == "patrol" and report.worker_id
            else []
        )
        count([*places(report.grid), *reporter], report.reported_at, "reported")
        if (resolution := lifecycle.resolution) is not None:
            operator: Entity = ("grid_worker", resolution.operator)
            count([*places(resolution.grid), operator], resolution.resolved_at, "handled")
        for order in lifecycle.orders:
            unit: list[Entity] = [("department", order.department), *places(order.grid)]
            count(unit, order.dispatched_at, "dispatched")
            for fired_at in order.breaches:
                count(unit, fired_at, "breaches")
            if order.reopened_at is not None:
                # Sent back to the same department, on the same place.
                count(unit, order.reopened_at, "reopens")
            if order.completed_at is not None:
                completer: list[Entity] = (
                    [("handler", f"{order.department}:{order.complete_handler}")]
                    if order.complete_handler
                    else []
                )
                count([*unit, *completer], order.completed_at, "handled")
            # Who answers for the order: its unit, its place, whoever accepted or completed it.
            named = {order.accept_handler, order.complete_handler} - {None}
            handlers: list[Entity] = [("handler", f"{order.department}:{h}") for h in named]
            for level, entity_id in [*unit, *handlers]:
                for period in periods(order.dispatched_at):
                    tallies[(level, entity_id, period)].add_order(order)
    return dict(tallies)


def expected_ranking(
    expected: dict[FigureKey, Tally], level: Level, metric: str, period: str
) -> list[dict[str, Any]]:
    """Competition ranking (1, 2, 2, 4); entities without a value last, unranked, by id."""
    shown = {
        entity_id: tally.metric(metric)
        for (lvl, entity_id, p), tally in expected.items()
        if lvl == level and p == period
    }
    valued = [(shown[e]["value"], e) for e in shown if shown[e]["value"] is not None]
    sign = 1 if metric in FEWER_IS_BETTER else -1
    valued.sort(key=lambda pair: (sign * pair[0], pair[1]))
    entries = []
    previous: float | None = None
    rank = 0
    for position, (value, entity_id) in enumerate(valued, start=1):
        if value != previous:
            rank, previous = position, value
        entries.append({"rank": rank, "entity_id": entity_id, **shown[entity_id]})
    for entity_id in sorted(e for e in shown if shown[e]["value"] is None):
        entries.append({"rank": None, "entity_id": entity_id, **shown[entity_id]})
    return entries


# --- publishing ---


def deliveries(world: World, rng: random.Random) -> tuple[list[Outgoing], int]:
    """Every event once in a shuffled order (replies before dispatches, October after
    December), plus a tenth of them again: some mixed in, some after everything else."""
    events = world.events
    order = list(events)
    rng.shuffle(order)
    repeats = rng.sample(events, len(events) // 10)
    half = len(repeats) // 2
    for outgoing in repeats[:half]:
        order.insert(rng.randrange(len(order) + 1), outgoing)
    return [*order, *repeats[half:]], len(repeats)


# The recompute reads a month entity by entity, or whole when its marks cover enough of the city
# (recompute.read_whole_month): level sizes of 1 make every month's marks read it whole.
READS: dict[str, dict[Level, int]] = {
    "entity by entity": {},
    "whole months": dict.fromkeys(LEVEL_METRICS, 1),
}


@pytest.fixture(params=sorted(READS))
async def scoring_with_retries(
    isolated: Isolated, mongo_client: Client, request: pytest.FixtureRequest
) -> AsyncIterator[Scoring]:
    # Short back-offs, so a failed first attempt comes back through the retry queue quickly;
    # warnings only, so a failure's report is not buried under thousands of fact_recorded.
    settings = scoring_settings(isolated, retry_delays_ms=(300, 1_000, 3_000), log_level="WARNING")
    async with running_scoring(settings) as running:
        running.deps.recomputer.level_sizes = READS[request.param]
        yield running


def die_after_storing(
    scoring: Scoring, event_ids: set[str], monkeypatch: pytest.MonkeyPatch
) -> set[str]:
    """The first delivery of these events stores the fact, then fails before marking anything:
    the broker redelivers them through the retry queue. Returns the ids that failed so far."""
    store = scoring.deps.facts
    real_add = store.add
    failed: set[str] = set()

    async def add_then_fail(fact: Fact) -> bool:
        stored = await real_add(fact)
        if fact.event_id in event_ids and fact.event_id not in failed:
            failed.add(fact.event_id)
            raise ConnectionError("lost the database between storing a fact and marking")
        return stored

    monkeypatch.setattr(store, "add", add_then_fail)
    return failed


# --- comparing ---


def differences(
    key: FigureKey, shown: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> list[str]:
    level, entity_id, period = key
    return [
        f"{level}:{entity_id} {period} {metric}: scoring {shown.get(metric)} != expected {want}"
        for metric, want in expected.items()
        if shown.get(metric) != want
    ]


async def compare_entities(scoring: Scoring, expected: dict[FigureKey, Tally]) -> list[str]:
    limit = asyncio.Semaphore(8)

    async def one(key: FigureKey) -> list[str]:
        level, entity_id, period = key
        async with limit:
            body = await scoring.entity(level, entity_id, period)
        return differences(key, body["metrics"], expected[key].metrics(level))

    found = await asyncio.gather(*(one(key) for key in sorted(expected)))
    return [line for lines in found for line in lines]


def ranking_differences(shown: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"#{n}: scoring {got} != expected {want}"
        for n, (got, want) in enumerate(zip(shown, expected, strict=False), start=1)
        if got != want
    ]
    if len(shown) != len(expected):
        lines.append(f"scoring lists {len(shown)} entries, expected {len(expected)}")
    return lines


async def stored_figure_ids(scoring: Scoring) -> set[str]:
    return {document["_id"] async for document in scoring.deps.figures.all()}


async def stored_figures(scoring: Scoring) -> dict[str, dict[str, Any]]:
    """Every stored figures document, without when it was computed."""
    return {
        document["_id"]: {k: v for k, v in document.items() if k != "computed_at"}
        async for document in scoring.deps.figures.all()
    }


def report(problems: list[str], what: str) -> str:
    shown = "\n  ".join(problems[:60])
    more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
    return f"{len(problems)} {what}:\n  {shown}{more}"


async def test_generated_life_cycles_score_as_computed_independently_and_as_rebuilt(
    scoring_with_retries: Scoring, monkeypatch: pytest.MonkeyPatch
) -> None:
    scoring = scoring_with_retries
    world = generate(LIFE_CYCLES)
    rng = random.Random(SEED + 1)
    sent, repeated = deliveries(world, rng)
    doomed = {o.message_id for o in rng.sample(world.events, len(world.events) // 50)}
    failed = die_after_storing(scoring, doomed, monkeypatch)

    for outgoing in sent:
        await scoring.publish(outgoing)
    await scoring.settled(len(sent), *TYPES, timeout=180)
    assert failed == doomed, "every doomed first delivery failed once and came back"

    expected = expected_figures(world)
    assert len(world.events) > 2_000 and repeated > 200
    levels = Counter(level for level, _, _ in expected)
    assert set(levels) == set(LEVEL_METRICS), f"every level is exercised: {levels}"

    problems = await compare_entities(scoring, expected)
    assert not problems, report(problems, "figures differ from the independent computation")

    wanted_ids = {f"{level}:{entity_id}|{period}" for level, entity_id, period in expected}
    stored = await stored_figure_ids(scoring)
    assert stored == wanted_ids, report(
        [f"unexpected {i}" for i in sorted(stored - wanted_ids)]
        + [f"missing {i}" for i in sorted(wanted_ids - stored)],
        "figure documents stored for the wrong (entity, period) pairs",
    )

    ties = unranked = 0
    for level, metric, period in RANKINGS:
        body = await scoring.get("/v1/rankings", period=period, level=level, metric=metric)
        want = expected_ranking(expected, level, metric, period)
        assert want, f"no {level} entities in {period}: the ranking would prove nothing"
        assert body["entries"] == want, report(
            ranking_differences(body["entries"], want),
            f"differences in the ranking of {level} by {metric} in {period}",
        )
        ranks = [entry["rank"] for entry in want if entry["rank"] is not None]
        ties += len(ranks) - len(set(ranks))
        unranked += len(want) - len(ranks)
    assert ties > 0, "some ranking has entities sharing a rank"
    assert unranked > 0, "some ranking lists entities without a value"

    # The incremental figures are the rebuilt ones, and rebuilding changes none of them.
    settings = scoring.deps.settings
    incremental = await stored_figures(scoring)
    assert await run_rebuild(settings, check=True) == 0, "rebuild --check found differences"
    assert await run_rebuild(settings, check=False) == 0
    rebuilt = await stored_figures(scoring)
    changed = sorted(
        k for k in incremental.keys() | rebuilt.keys() if incremental.get(k) != rebuilt.get(k)
    )
    assert not changed, report(changed, "figures changed by the rebuild")
    problems = await compare_entities(scoring, expected)
    assert not problems, report(problems, "figures differ after a rebuild")
