"""Wires dispatch: runtime, repositories, the rules' policy, handlers, department queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.clock import Clock
from gridloop_common.contracts import DispatchWatermark
from gridloop_common.registry import load_registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_dispatch import repository
from gridloop_dispatch.areas import AreaDirectory
from gridloop_dispatch.auth import DepartmentKeyring
from gridloop_dispatch.handlers import DispatchHandlers
from gridloop_dispatch.lifecycle import Policy
from gridloop_dispatch.service import DispatchService
from gridloop_dispatch.settings import DispatchSettings
from gridloop_dispatch.subscriptions import subscriptions


@dataclass(frozen=True)
class DispatchDeps:
    settings: DispatchSettings
    runtime: ServiceRuntime
    service: DispatchService
    cases: repository.CaseRepository
    rules: repository.RoutingRuleRepository
    rule_book: repository.RuleBook
    keys: repository.DepartmentKeyRepository
    keyring: DepartmentKeyring

    @property
    def clock(self) -> Clock:
        return self.runtime.clock


def policy_from(settings: DispatchSettings) -> Policy:
    return Policy(
        accept_window=timedelta(seconds=settings.sla_accept_window_seconds),
        default_complete_within_hours=settings.default_complete_within_hours,
        complete_within_scale=settings.complete_within_scale,
        fallback_after_rejections=settings.fallback_after_rejections,
        flag_after_bounces=settings.flag_after_bounces,
        max_reopens=settings.max_reopens,
        local_first_categories=frozenset(settings.local_first_categories),
    )


def build_deps(settings: DispatchSettings, clock: Clock | None = None) -> DispatchDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.CASES],
        department_queues=[department.code for department in DEPARTMENTS],
    )
    cases = repository.CaseRepository(runtime.collection(repository.CASES), runtime.relay_now)
    rules = repository.RoutingRuleRepository(runtime.collection(repository.ROUTING_RULES))
    rule_book = repository.RuleBook(rules, settings.routing_rules_refresh_seconds)
    runtime.background = [rule_book.keep_fresh]
    # "Every case event stored before T is out": sla-monitor judges no deadline past T.
    runtime.watermark = lambda until: DispatchWatermark(published_until=until)
    keys = repository.DepartmentKeyRepository(runtime.collection(repository.DEPARTMENT_KEYS))
    service = DispatchService(
        cases=cases,
        rules=rule_book,
        areas=AreaDirectory(load_registry()),
        policy=policy_from(settings),
        clock=runtime.clock,
        reporter_tokens=ReporterTokens(settings.reporter_token_secret),
        fault_point=settings.gridloop_fault_point,
    )
    runtime.subscriptions = subscriptions(DispatchHandlers(service))
    return DispatchDeps(
        settings=settings,
        runtime=runtime,
        service=service,
        cases=cases,
        rules=rules,
        rule_book=rule_book,
        keys=keys,
        keyring=DepartmentKeyring(keys),
    )
