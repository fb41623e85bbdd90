"""Wires dispatch: runtime, repository, handlers and the department queues."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from gridloop_common.clock import Clock
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_dispatch import repository
from gridloop_dispatch.handlers import DispatchHandlers
from gridloop_dispatch.settings import DispatchSettings
from gridloop_dispatch.subscriptions import subscriptions
from gridloop_dispatch.topology import declare_department_queues


@dataclass
class DispatchDeps:
    settings: DispatchSettings
    runtime: ServiceRuntime
    cases: repository.CaseRepository
    handlers: DispatchHandlers | None = field(default=None)


def build_deps(settings: DispatchSettings, clock: Clock | None = None) -> DispatchDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.CASES],
        extra_topology=[declare_department_queues],
    )
    cases = repository.CaseRepository(runtime.collection(repository.CASES))
    handlers = DispatchHandlers(
        repository=cases,
        relay_now=runtime.relay_now,
        clock=runtime.clock,
        accept_window=timedelta(seconds=settings.sla_accept_window_seconds),
        fault_point=settings.gridloop_fault_point,
    )
    runtime.subscriptions = subscriptions(handlers)
    return DispatchDeps(settings=settings, runtime=runtime, cases=cases, handlers=handlers)
