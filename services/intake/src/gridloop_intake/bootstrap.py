"""Wires intake: one place that builds the runtime, the registry, the use cases and the handlers."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.registry import Registry, load_registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_common.runtime import ServiceRuntime, runtime_for
from gridloop_intake import repository
from gridloop_intake.erasure import ContactEraser
from gridloop_intake.handlers import CaseStatusHandlers
from gridloop_intake.rate_limits import RateLimits
from gridloop_intake.repository.upgrades import StoredReportUpgrades
from gridloop_intake.service import ReportService
from gridloop_intake.settings import IntakeSettings
from gridloop_intake.subscriptions import subscriptions


@dataclass(frozen=True)
class IntakeDeps:
    settings: IntakeSettings
    runtime: ServiceRuntime
    registry: Registry
    reports: repository.ReportRepository
    service: ReportService
    eraser: ContactEraser
    reporter_tokens: ReporterTokens
    rate_limits: RateLimits

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def is_open311_key(self, offered: str) -> bool:
        # Compared in constant time with every key, so timing does not reveal a near miss.
        matches = [
            hmac.compare_digest(offered.encode(), key.encode())
            for key in self.settings.gridloop_open311_api_keys
        ]
        return any(matches)


def build_deps(settings: IntakeSettings, clock: Clock | None = None) -> IntakeDeps:
    runtime = runtime_for(
        settings,
        clock,
        indexes=repository.INDEXES,
        outbox_collections=[repository.REPORTS, repository.ERASURES],
    )
    reports = repository.ReportRepository(
        runtime.collection(repository.REPORTS),
        runtime.collection(repository.CONTACTS),
        runtime.collection(repository.ERASURES),
        relay_now=runtime.relay_now,
    )
    runtime.subscriptions = subscriptions(CaseStatusHandlers(reports))
    runtime.background = [StoredReportUpgrades(runtime.database, runtime.clock).run]
    pseudonym_key = settings.intake_pseudonym_key.get_secret_value().encode()
    service = ReportService(reports, runtime.clock, pseudonym_key)
    return IntakeDeps(
        settings=settings,
        runtime=runtime,
        registry=load_registry(),
        reports=reports,
        service=service,
        eraser=ContactEraser(reports, runtime.clock, pseudonym_key),
        reporter_tokens=ReporterTokens(settings.reporter_token_secret),
        rate_limits=RateLimits(
            settings.intake_rate_limit_per_address,
            settings.intake_rate_limit_per_key,
            settings.intake_rate_limit_exempt_keys,
        ),
    )
