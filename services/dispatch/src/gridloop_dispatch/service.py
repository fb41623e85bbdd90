"""The center's use cases: read a case, let the state machine decide, store change and events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import OrderReply, ReportReceived
from gridloop_common.faults import crash_point
from gridloop_common.idempotency import (
    IDEMPOTENCY_HEADER,
    KEY_REUSED,
    KEY_REUSED_DETAIL,
    KEY_REUSED_REASON,
)
from gridloop_common.messaging import Outgoing, envelope
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_dispatch import lifecycle
from gridloop_dispatch.areas import Area, AreaDirectory
from gridloop_dispatch.lifecycle import Act, Change, Outcome, Policy, Refusal, Via
from gridloop_dispatch.model import Case
from gridloop_dispatch.repository import StoredCase
from gridloop_dispatch.routing import RoutingRule, candidate_rule_ids, route

log = structlog.stdlib.get_logger("gridloop.dispatch")

SOURCE = "gridloop/dispatch"
# Optimistic writes: each attempt re-reads the case; losing this often means heavy contention.
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Cause:
    """What asked for a change: its id makes the change idempotent."""

    id: str
    correlation_id: str | None = None
    # An HTTP request's fingerprint (endpoint and body): the same Idempotency-Key with another
    # body is refused, not answered with the first request's result.
    fingerprint: str | None = None


@dataclass(frozen=True)
class Done:
    case: Case
    # True when this cause had been applied before: nothing changed now.
    repeated: bool = False


Result = Done | Refusal


class ConcurrentUpdates(RuntimeError):
    """The case kept changing under us; the caller retries later."""


class CaseStore(Protocol):
    """Where cases are kept: `repository.CaseRepository` (MongoDB), or memory in tests."""

    async def insert_new(self, change: Change, events: list[Outgoing], now: datetime) -> bool: ...

    async def load(self, case_id: str) -> StoredCase | None: ...

    async def case_id_of_order(self, order_id: str) -> str | None: ...

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
    ) -> bool: ...

    def relay(self, case_id: str, events: Sequence[Outgoing]) -> None: ...


class RuleSource(Protocol):
    async def by_ids(self, rule_ids: list[str]) -> list[RoutingRule]: ...


@dataclass(frozen=True)
class DispatchService:
    cases: CaseStore
    rules: RuleSource
    areas: AreaDirectory
    policy: Policy
    clock: Clock
    reporter_tokens: ReporterTokens
    fault_point: str = ""

    # --- reports ----------------------------------------------------------------------------

    async def open_from_report(self, report: ReportReceived, cause: Cause) -> Case | None:
        """Open the case for a report; None when it was opened before (a redelivery)."""
        now = self._now()
        area = self.areas.area(report.grid_id, report.township_id, report.village_id)
        rules = await self._rules(report.category_code, area.township_id, area.village_id)
        decision = route(
            report.category_code, report.grid_id, area.township_id, area.village_id, rules
        )
        change = lifecycle.open_case(
            report, area, decision, self.policy, Act(now, "dispatch", cause.id, "rule")
        )
        outgoing = self._envelopes(change, cause, now)
        if not await self.cases.insert_new(change, outgoing, now):
            return None
        crash_point(self.fault_point, "dispatch.after_case_stored")
        self.cases.relay(change.case.case_id, outgoing)
        log.info("case_opened", case_id=change.case.case_id, status=change.case.status)
        return change.case

    # --- department replies -----------------------------------------------------------------

    async def reply(self, reply: OrderReply, sender: str, cause: Cause, via: Via) -> Result:
        case_id = await self.cases.case_id_of_order(reply.order_id)
        if case_id is None:
            return Refusal("not_found", "order_not_found", f"no order {reply.order_id}")
        return await self._apply(
            case_id,
            cause,
            sender,
            via,
            lambda case, act: lifecycle.apply_reply(case, reply, sender, self.policy, act),
        )

    # --- the center -------------------------------------------------------------------------

    async def triage(
        self,
        case_id: str,
        *,
        category_code: str | None,
        department: str | None,
        cooperating: Sequence[str],
        grid_id: str | None,
        note: str | None,
        operator: str,
        cause: Cause,
    ) -> Result:
        area: Area | None = None
        if grid_id is not None:
            if not self.areas.knows_grid(grid_id):
                return Refusal("invalid", "unknown_grid", f"no grid {grid_id} in the registry")
            area = self.areas.area(grid_id)
        current = await self.cases.load(case_id)
        if current is None:
            return _no_case(case_id)
        township = area.township_id if area else current.case.township_id
        village = area.village_id if area else current.case.village_id
        rules = await self._rules(category_code or current.case.category_code, township, village)
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.triage(
                case,
                category_code=category_code,
                department=department,
                cooperating=cooperating,
                area=area,
                rules=rules,
                note=note,
                policy=self.policy,
                act=act,
            ),
        )

    async def redispatch(
        self,
        case_id: str,
        *,
        department: str,
        order_id: str | None,
        note: str | None,
        operator: str,
        cause: Cause,
    ) -> Result:
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.redispatch(
                case,
                department=department,
                order_id=order_id,
                note=note,
                policy=self.policy,
                act=act,
            ),
        )

    async def joint_action(
        self,
        case_id: str,
        *,
        lead: str,
        cooperating: Sequence[str],
        note: str | None,
        operator: str,
        cause: Cause,
    ) -> Result:
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.joint_action(
                case, lead=lead, cooperating=cooperating, note=note, policy=self.policy, act=act
            ),
        )

    async def escalate(
        self, case_id: str, *, note: str | None, operator: str, cause: Cause
    ) -> Result:
        current = await self.cases.load(case_id)
        if current is None:
            return _no_case(case_id)
        case = current.case
        rules = await self._rules(case.category_code, case.township_id, case.village_id)
        decision = route(case.category_code, case.grid_id, case.township_id, case.village_id, rules)
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.escalate(
                case, decision=decision, note=note, policy=self.policy, act=act
            ),
        )

    async def resolve_locally(
        self, case_id: str, *, resolution: str, operator: str, cause: Cause
    ) -> Result:
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.resolve_locally(case, resolution=resolution, act=act),
        )

    async def decide_extension(
        self,
        order_id: str,
        *,
        approve: bool,
        complete_by: datetime | None,
        note: str | None,
        operator: str,
        cause: Cause,
    ) -> Result:
        case_id = await self.cases.case_id_of_order(order_id)
        if case_id is None:
            return Refusal("not_found", "order_not_found", f"no order {order_id}")
        return await self._apply(
            case_id,
            cause,
            operator,
            "http",
            lambda case, act: lifecycle.decide_extension(
                case,
                order_id=order_id,
                approve=approve,
                complete_by=complete_by,
                note=note,
                act=act,
            ),
        )

    # --- the reporter -----------------------------------------------------------------------

    async def feedback(
        self,
        case_id: str,
        *,
        reporter_token: str,
        satisfied: bool,
        comment: str | None,
        cause: Cause,
    ) -> Result:
        """The reporter's verdict; only the holder of the case's reporter token may give it."""

        def decide(case: Case, act: Act) -> Outcome:
            if not case.report_id or not self.reporter_tokens.matches(
                case.report_id, reporter_token
            ):
                return Refusal(
                    "forbidden",
                    "wrong_reporter_token",
                    "the token is not the one given to this case's reporter",
                )
            return lifecycle.feedback(
                case, satisfied=satisfied, comment=comment, policy=self.policy, act=act
            )

        return await self._apply(case_id, cause, "reporter", "http", decide)

    # --- plumbing ---------------------------------------------------------------------------

    async def _rules(
        self, category_code: str, township_id: str | None, village_id: str | None
    ) -> list[RoutingRule]:
        return await self.rules.by_ids(candidate_rule_ids(category_code, township_id, village_id))

    async def _apply(
        self,
        case_id: str,
        cause: Cause,
        who: str,
        via: Via,
        decide: Callable[[Case, Act], Outcome],
    ) -> Result:
        """Read, decide, write if the case is unchanged since the read; else read again."""
        for _ in range(MAX_ATTEMPTS):
            stored = await self.cases.load(case_id)
            if stored is None:
                return _no_case(case_id)
            if not stored.same_request(cause.id, cause.fingerprint):
                return _key_reused()
            if cause.id in stored.applied:
                return Done(stored.case, repeated=True)
            now = self._now()
            outcome = decide(stored.case, Act(now, who, cause.id, via))
            if isinstance(outcome, Refusal):
                if outcome.record is None or cause.id in stored.refused:
                    return replace(outcome, record=None)
                if await self._store(stored.case, outcome.record, cause, now, refused=True):
                    log.warning("case_reply_refused", case_id=case_id, code=outcome.code)
                    return outcome
                continue
            if await self._store(stored.case, outcome, cause, now):
                log.info(
                    "case_changed",
                    case_id=case_id,
                    what=[line["what"] for line in outcome.history],
                    status=outcome.case.status,
                )
                return Done(replace(outcome.case, version=stored.case.version + 1))
        raise ConcurrentUpdates(f"case {case_id} kept changing; try again")

    async def _store(
        self, before: Case, change: Change, cause: Cause, now: datetime, *, refused: bool = False
    ) -> bool:
        outgoing = self._envelopes(change, cause, now)
        stored = await self.cases.save(
            before, change, cause.id, outgoing, now, refused=refused, fingerprint=cause.fingerprint
        )
        if stored:
            crash_point(self.fault_point, "dispatch.after_change_stored")
        if stored:
            self.cases.relay(before.case_id, outgoing)
        return stored

    def _now(self) -> datetime:
        # Milliseconds, as BSON stores them: what is published equals what is stored and read
        # back, so a deadline compared or republished later is the same instant to the digit.
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _envelopes(self, change: Change, cause: Cause, now: datetime) -> list[Outgoing]:
        case = change.case
        correlation = cause.correlation_id or case.report_id or case.case_id
        return [
            envelope(
                message,
                source=SOURCE,
                time=now,
                event_id=message_id,
                correlation_id=correlation,
                causation_id=cause.id,
            )
            for message_id, message in change.messages
        ]


def _no_case(case_id: str) -> Refusal:
    return Refusal("not_found", "case_not_found", f"no case {case_id}")


def _key_reused() -> Refusal:
    return Refusal(
        "invalid",
        KEY_REUSED,
        KEY_REUSED_DETAIL,
        {"errors": [{"field": IDEMPOTENCY_HEADER, "reason": KEY_REUSED_REASON}]},
    )
