"""Wires scoring: one place that builds the runtime, the repository and the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_scoring import repository
from gridloop_scoring.handlers import FactHandlers
from gridloop_scoring.settings import ScoringSettings
from gridloop_scoring.subscriptions import subscriptions


@dataclass(frozen=True)
class ScoringDeps:
    settings: ScoringSettings
    runtime: ServiceRuntime
    facts: repository.FactRepository

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def build_deps(settings: ScoringSettings, clock: Clock | None = None) -> ScoringDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        # No outbox yet: scoring publishes nothing until `scoring.period_closed` arrives.
    )
    facts = repository.FactRepository(runtime.collection(repository.FACTS))
    runtime.subscriptions = subscriptions(FactHandlers(facts, runtime.clock))
    return ScoringDeps(settings=settings, runtime=runtime, facts=facts)
