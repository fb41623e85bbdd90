"""dispatch's stores kept in memory, for tests that call handlers and use cases directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.dispatch.tests.test_lifecycle import NOW, POLICY

from gridloop_common.clock import ManualClock
from gridloop_common.messaging import Outgoing
from gridloop_common.registry import load_registry
from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET, ReporterTokens
from gridloop_dispatch.areas import AreaDirectory
from gridloop_dispatch.lifecycle import Change
from gridloop_dispatch.model import Case
from gridloop_dispatch.repository import StoredCase
from gridloop_dispatch.routing import RoutingRule
from gridloop_dispatch.service import DispatchService


@dataclass
class MemoryCases:
    """The CaseStore contract as the MongoDB repository keeps it: a versioned write that fails
    when the case changed since it was read; `lose_races` makes the next writes fail so."""

    stored: dict[str, StoredCase] = field(default_factory=dict)
    relayed: list[tuple[str, list[Outgoing]]] = field(default_factory=list)
    lose_races: int = 0

    async def insert_new(self, change: Change, events: list[Outgoing], now: datetime) -> bool:
        if change.case.case_id in self.stored:
            return False
        self.stored[change.case.case_id] = StoredCase(change.case, frozenset(), frozenset())
        return True

    async def load(self, case_id: str) -> StoredCase | None:
        return self.stored.get(case_id)

    async def case_id_of_order(self, order_id: str) -> str | None:
        return next(
            (
                case_id
                for case_id, stored in self.stored.items()
                if any(o.order_id == order_id for o in stored.case.orders)
            ),
            None,
        )

    async def save(
        self,
        before: Case,
        change: Change,
        cause_id: str,
        events: list[Outgoing],
        now: datetime,
        *,
        refused: bool = False,
        fingerprint: str | None = None,
    ) -> bool:
        current = self.stored[before.case_id]
        if self.lose_races:
            self.lose_races -= 1
            return False
        if current.case.version != before.version:
            return False
        self.stored[before.case_id] = StoredCase(
            replace(change.case, version=before.version + 1),
            current.applied | ({cause_id} if not refused else set()),
            current.refused | ({cause_id} if refused else set()),
            {**current.fingerprints, **({cause_id: fingerprint} if fingerprint else {})},
        )
        return True

    def relay(self, case_id: str, events: Sequence[Outgoing]) -> None:
        if events:
            self.relayed.append((case_id, list(events)))


class NoRules:
    async def by_ids(self, rule_ids: list[str]) -> list[RoutingRule]:
        return []


AREAS = AreaDirectory(load_registry())


def service_over(cases: MemoryCases, areas: AreaDirectory = AREAS) -> DispatchService:
    return DispatchService(
        cases=cases,
        rules=NoRules(),
        areas=areas,
        policy=POLICY,
        clock=ManualClock(NOW),
        reporter_tokens=ReporterTokens(DEVELOPMENT_SECRET),
    )
