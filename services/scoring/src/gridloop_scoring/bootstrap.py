"""Wires scoring: one place that builds the runtime, the stores, the handlers and the loops."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.clock import Clock
from gridloop_common.registry import load_registry
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_scoring import repository
from gridloop_scoring.closing import PeriodCloser
from gridloop_scoring.facts import AreaOf
from gridloop_scoring.handlers import FactHandlers
from gridloop_scoring.levels import Level
from gridloop_scoring.recompute import Recomputer
from gridloop_scoring.service import FactService
from gridloop_scoring.settings import ScoringSettings
from gridloop_scoring.subscriptions import subscriptions


@dataclass(frozen=True)
class ScoringDeps:
    settings: ScoringSettings
    runtime: ServiceRuntime
    facts: repository.FactStore
    dirty: repository.DirtyQueue
    figures: repository.FigureStore
    periods: repository.PeriodStore
    recomputer: Recomputer
    closer: PeriodCloser

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def registry_areas() -> AreaOf:
    """The village and township of a grid, from the city's registry (SLA events name neither)."""
    registry = load_registry()

    def area_of(grid_id: str) -> tuple[str | None, str | None]:
        grid = registry.grid(grid_id)
        return (grid.village_id, grid.township_id) if grid else (None, None)

    return area_of


def city_level_sizes() -> dict[Level, int]:
    """How many grids, villages, townships and departments the city has (recompute's cost
    model, see `read_whole_month`)."""
    registry = load_registry()
    return {
        "grid": len(registry.grids),
        "village": len(registry.villages),
        "township": len(registry.townships),
        "department": len(DEPARTMENTS),
    }


def build_deps(settings: ScoringSettings, clock: Clock | None = None) -> ScoringDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.PERIODS],
    )
    facts = repository.FactStore(
        runtime.collection(repository.FACTS), runtime.collection(repository.UNMARKED)
    )
    dirty = repository.DirtyQueue(runtime.collection(repository.DIRTY))
    figures = repository.FigureStore(
        runtime.collection(repository.FIGURES), runtime.collection(repository.SAMPLES)
    )
    periods = repository.PeriodStore(
        runtime.collection(repository.PERIODS),
        timedelta(seconds=settings.close_grace_seconds),
        runtime.relay_now,
    )
    recomputer = Recomputer(
        facts,
        dirty,
        figures,
        periods,
        runtime.clock,
        interval_seconds=settings.recompute_interval_seconds,
        delay=timedelta(seconds=settings.recompute_delay_seconds),
        gather=timedelta(seconds=settings.recompute_gather_seconds),
        level_sizes=city_level_sizes(),
    )
    closer = PeriodCloser(
        periods,
        dirty,
        facts,
        figures,
        runtime.clock,
        excellent_cases=settings.excellent_cases,
        top_performers=settings.top_performers,
        interval_seconds=settings.close_check_interval_seconds,
    )
    service = FactService(facts, runtime.clock, registry_areas())
    runtime.subscriptions = subscriptions(FactHandlers(service))
    runtime.background = [recomputer.run, closer.run]
    return ScoringDeps(settings, runtime, facts, dirty, figures, periods, recomputer, closer)
