"""Wires intake: one place that builds the runtime, the repository and the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.outbox import OutboxRelay
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_intake import repository
from gridloop_intake.handlers import CaseStatusHandlers
from gridloop_intake.settings import IntakeSettings
from gridloop_intake.subscriptions import subscriptions


@dataclass(frozen=True)
class IntakeDeps:
    settings: IntakeSettings
    runtime: ServiceRuntime
    reports: repository.ReportRepository

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def relay(self) -> OutboxRelay:
        return self.runtime.require_relay()


def build_deps(settings: IntakeSettings, clock: Clock | None = None) -> IntakeDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.REPORTS],
    )
    reports = repository.ReportRepository(runtime.collection(repository.REPORTS))
    runtime.subscriptions = subscriptions(CaseStatusHandlers(reports))
    return IntakeDeps(settings=settings, runtime=runtime, reports=reports)
