"""Seeded case life cycles for the correctness test: what happened (the truth) and its events.

The generator decides each case's story first (report, orders, replies, verdicts, feedback) and
derives the contract events from it, so a test can compute the expected figures from the story
without going through scoring's own folding of events.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseReplyRefused,
    CaseResolvedLocally,
    Event,
    ReportReceived,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.contracts.reports import Channel
from gridloop_common.contracts.sla import ClockName, SlaEvent
from gridloop_common.messaging import Outgoing, envelope
from gridloop_common.registry import Grid, load_registry

SEED = 6_2026
SHANGHAI = ZoneInfo("Asia/Shanghai")
# September to December 2026 in Shanghai: two quarters, and a year's end some orders outlive.
FIRST_DAY = datetime(2026, 9, 1, tzinfo=SHANGHAI)
LAST_DAY = datetime(2027, 1, 1, tzinfo=SHANGHAI)
MONTH_STARTS = (*(datetime(2026, m, 1, tzinfo=SHANGHAI) for m in (10, 11, 12)), LAST_DAY)
TOWNSHIPS = ("twp-xijin", "twp-tianhu", "twp-meilin")
DEPARTMENT_NAMES = ("urban-mgmt", "water-affairs", "roads", "environment", "housing")
# Shared names on purpose: two departments may both have a "Wang Lei".
HANDLER_NAMES = ("Wang Lei", "Li Na", "Zhang Wei", "Liu Yang", "Chen Jing", "Wang Fang")
CATEGORIES = {"road-damage": 3, "garbage": 2, "water-leak": 5, "illegal-building": 7}
ACCEPT_WINDOW = timedelta(hours=8)
MAX_REOPENS = 2

Verdict = Literal["met", "late"]


@dataclass
class Report:
    report_id: str
    case_id: str
    grid: Grid
    channel: Channel
    reported_at: datetime
    worker_id: str | None


@dataclass
class Resolution:
    """Solved in the village without any work order, by a grid worker."""

    case_id: str
    grid: Grid
    operator: str
    resolved_at: datetime


@dataclass
class OrderStory:
    order_id: str
    case_id: str
    department: str
    grid: Grid
    category: str
    dispatched_at: datetime
    accept_by: datetime
    # The latest complete-by, after every approved extension.
    complete_by: datetime
    accepted_at: datetime | None = None
    accept_handler: str | None = None
    completed_at: datetime | None = None
    complete_handler: str | None = None
    # False for a cooperating unit's part of a joint action: no verdict is given on it.
    completes_case: bool = False
    # The reporter's verdict on the case, given on this order; None if not closed on it.
    satisfied: bool | None = None
    # sla-monitor's verdicts, where it gave one.
    accept_verdict: Verdict | None = None
    complete_verdict: Verdict | None = None
    breaches: list[datetime] = field(default_factory=list)
    # When the reporter sent the case back on this order (a new order follows).
    reopened_at: datetime | None = None


@dataclass
class Lifecycle:
    case_id: str
    report: Report
    resolution: Resolution | None = None
    orders: list[OrderStory] = field(default_factory=list)
    events: list[Outgoing] = field(default_factory=list)


@dataclass
class World:
    token: str
    departments: tuple[str, ...]
    handlers: dict[str, tuple[str, ...]]
    grids: tuple[Grid, ...]
    workers: dict[str, tuple[str, ...]]
    lifecycles: list[Lifecycle]

    @property
    def events(self) -> list[Outgoing]:
        return [e for lifecycle in self.lifecycles for e in lifecycle.events]

    def orders(self) -> Iterator[OrderStory]:
        for lifecycle in self.lifecycles:
            yield from lifecycle.orders


def _seconds(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    """A whole number of seconds in [low, high]: the database keeps milliseconds."""
    return timedelta(seconds=rng.randint(int(low.total_seconds()), int(high.total_seconds())))


def _pick_grids(rng: random.Random) -> tuple[Grid, ...]:
    registry = load_registry()
    picked: list[Grid] = []
    for township in TOWNSHIPS:
        grids = registry.grids_of("township", [township])
        villages = sorted({g.village_id for g in grids})
        for village in rng.sample(villages, 2):
            inside = [g for g in grids if g.village_id == village]
            picked += rng.sample(inside, min(len(inside), rng.choice((1, 2))))
    return tuple(picked)


class _Writer:
    """Builds one case's story and its events."""

    def __init__(self, world: World, rng: random.Random, number: int) -> None:
        self.world, self.rng = world, rng
        self.case_id = f"C-{world.token}-{number:04d}"
        self.orders = 0
        self.reopens = 0
        self.grid = rng.choice(world.grids)
        self.category = rng.choice(sorted(CATEGORIES))

    def emit(self, lifecycle: Lifecycle, event: Event, source: str, at: datetime) -> None:
        lifecycle.events.append(envelope(event, source=f"gridloop/{source}", time=at))

    def area(self, *, with_names: bool) -> dict[str, str | None]:
        # Half the events name their village and township; the rest leave it to the registry.
        if not with_names:
            return {"grid_id": self.grid.id}
        return {
            "grid_id": self.grid.id,
            "village_id": self.grid.village_id,
            "township_id": self.grid.township_id,
        }

    def case_fields(self, order: OrderStory) -> dict[str, str | None]:
        return {
            "case_id": self.case_id,
            "order_id": order.order_id,
            "department": order.department,
            "category_code": self.category,
            "report_id": f"R-{self.case_id}",
            **self.area(with_names=self.rng.random() < 0.5),
        }

    def sla(
        self,
        lifecycle: Lifecycle,
        order: OrderStory,
        kind: type[SlaEvent],
        clock: ClockName,
        when: datetime,
        **fields: object,
    ) -> None:
        deadline = order.accept_by if clock == "accept" else order.complete_by
        township = {"township_id": self.grid.township_id} if self.rng.random() < 0.5 else {}
        event = kind(
            order_id=order.order_id,
            case_id=self.case_id,
            department=order.department,
            clock=clock,
            deadline=deadline,
            category_code=self.category,
            grid_id=self.grid.id,
            started_at=order.dispatched_at,
            **township,
            **fields,
        )
        self.emit(lifecycle, event, "sla-monitor", when)

    def handler(self, department: str) -> str | None:
        if self.rng.random() < 0.15:
            return None
        return self.rng.choice(self.world.handlers[department])

    # --- the story ---

    def report(self, at: datetime) -> Report:
        rng = self.rng
        workers = self.world.workers[self.grid.id]
        draw = rng.random()
        channel: Channel
        worker: str | None
        if draw < 0.45:
            channel, worker = "patrol", rng.choice(workers)
        elif draw < 0.8:
            # A worker may relay a resident's message from the chat group: still the resident's.
            channel, worker = "chat_group", rng.choice(workers) if rng.random() < 0.3 else None
        else:
            channel, worker = "native", None
        return Report(f"R-{self.case_id}", self.case_id, self.grid, channel, at, worker)

    def write(self, reported_at: datetime, dispatched_at: datetime) -> Lifecycle:
        rng = self.rng
        report = self.report(reported_at)
        lifecycle = Lifecycle(self.case_id, report)
        self.emit(
            lifecycle,
            ReportReceived(
                report_id=report.report_id,
                channel=report.channel,
                category_code=self.category,
                description="generated",
                reported_at=reported_at,
                worker_id=report.worker_id,
                chat_group_id=f"grp-{self.grid.id}" if report.channel == "chat_group" else None,
                reporter_id=None if report.channel == "patrol" else f"resident-{self.case_id}",
                **self.area(with_names=rng.random() < 0.5),
            ),
            "intake",
            reported_at,
        )
        draw = rng.random()
        if draw < 0.12:
            self.resolve_locally(lifecycle, report)
        elif draw < 0.18:
            self.joint_action(lifecycle, dispatched_at)
        else:
            if rng.random() < 0.3:
                # The village tried first, then handed the case to the center: counts nowhere.
                halfway = timedelta(seconds=int((dispatched_at - reported_at).total_seconds()) // 2)
                escalated = CaseEscalated(
                    case_id=self.case_id,
                    category_code=self.category,
                    report_id=report.report_id,
                    operator=report.worker_id,
                    escalated_at=reported_at + halfway,
                    **self.area(with_names=True),
                )
                self.emit(lifecycle, escalated, "dispatch", reported_at + halfway)
            department = rng.choice(self.world.departments)
            complete_by = dispatched_at + timedelta(days=CATEGORIES[self.category])
            self.order(lifecycle, department, dispatched_at, complete_by, reason="routed")
        return lifecycle

    def resolve_locally(self, lifecycle: Lifecycle, report: Report) -> None:
        operator = report.worker_id or self.rng.choice(self.world.workers[self.grid.id])
        at = report.reported_at + _seconds(self.rng, timedelta(minutes=10), timedelta(days=1))
        lifecycle.resolution = Resolution(self.case_id, self.grid, operator, at)
        event = CaseResolvedLocally(
            case_id=self.case_id,
            category_code=self.category,
            report_id=report.report_id,
            operator=operator,
            resolved_at=at,
            resolution="talked to the neighbours",
            **self.area(with_names=self.rng.random() < 0.5),
        )
        self.emit(lifecycle, event, "dispatch", at)

    def new_order(
        self, department: str, at: datetime, complete_by: datetime, **fields: object
    ) -> tuple[OrderStory, CaseDispatched]:
        self.orders += 1
        order = OrderStory(
            order_id=f"O-{self.case_id[2:]}-{self.orders}",
            case_id=self.case_id,
            department=department,
            grid=self.grid,
            category=self.category,
            dispatched_at=at,
            accept_by=at + ACCEPT_WINDOW,
            complete_by=complete_by,
        )
        event = CaseDispatched(
            **self.case_fields(order),
            dispatched_at=at,
            accept_by=order.accept_by,
            complete_by=complete_by,
            **fields,
        )
        return order, event

    def joint_action(self, lifecycle: Lifecycle, at: datetime) -> None:
        """A lead and a cooperating unit, each with its own order; the lead's closes the case."""
        lead, cooperating = self.rng.sample(self.world.departments, 2)
        complete_by = at + timedelta(days=CATEGORIES[self.category])
        stories = []
        for department, role in ((lead, "lead"), (cooperating, "cooperating")):
            order, event = self.new_order(
                department,
                at,
                complete_by,
                role=role,
                lead_department=lead,
                dispatch_reason="joint-action",
            )
            lifecycle.orders.append(order)
            self.emit(lifecycle, event, "dispatch", at)
            self.work(lifecycle, order, case_complete=role == "lead")
            stories.append(order)
        lead_order = stories[0]
        completions = [o.completed_at for o in stories]
        if all(completions) and self.rng.random() < 0.85:
            last = max(c for c in completions if c is not None)
            self.close(lifecycle, lead_order, last, reopen=False)

    def order(
        self,
        lifecycle: Lifecycle,
        department: str,
        at: datetime,
        complete_by: datetime,
        *,
        reason: str,
        previous: OrderStory | None = None,
        rejections: int = 0,
    ) -> None:
        rng = self.rng
        order, event = self.new_order(
            department,
            at,
            complete_by,
            role="sole",
            dispatch_reason=reason,
            previous_order_id=previous.order_id if previous else None,
        )
        lifecycle.orders.append(order)
        self.emit(lifecycle, event, "dispatch", at)
        # A case that bounced once bounces again more often (and is flagged at the second).
        bounce = 0.08 if rejections == 0 else 0.3
        if reason != "reopened" and rejections < 2 and rng.random() < bounce:
            rejected_at = at + _seconds(rng, timedelta(minutes=10), timedelta(hours=6))
            rejected = CaseRejected(
                **self.case_fields(order),
                rejected_at=rejected_at,
                reason_code="not-ours",
                rejections=rejections + 1,
            )
            self.emit(lifecycle, rejected, "dispatch", rejected_at)
            if rejections + 1 == 2:
                flagged = CaseFlagged(
                    **self.case_fields(order), flagged_at=rejected_at, bounces=2, threshold=2
                )
                self.emit(lifecycle, flagged, "dispatch", rejected_at)
            other = rng.choice([d for d in self.world.departments if d != department])
            again = rejected_at + _seconds(rng, timedelta(minutes=5), timedelta(hours=2))
            # The complete-by clock belongs to the case's share and carries over a re-dispatch.
            self.order(
                lifecycle,
                other,
                again,
                complete_by,
                reason="redispatch",
                previous=order,
                rejections=rejections + 1,
            )
            return
        self.work(lifecycle, order, case_complete=True)
        if order.completed_at is not None and rng.random() < 0.85:
            self.close(lifecycle, order, order.completed_at, reopen=True)

    def work(self, lifecycle: Lifecycle, order: OrderStory, *, case_complete: bool) -> None:
        """Acceptance (or not), extensions, completion (or not), with sla-monitor's verdicts."""
        rng = self.rng
        if rng.random() < 0.3:
            warned = order.dispatched_at + ACCEPT_WINDOW * 0.75
            self.sla(
                lifecycle, order, SlaWarning, "accept", warned, fired_at=warned, threshold=0.75
            )
        if rng.random() < 0.04:
            # Another department answered an order that is not its own: refused, counts nowhere.
            sender = rng.choice([d for d in self.world.departments if d != order.department])
            refused_at = order.dispatched_at + _seconds(
                rng, timedelta(minutes=1), timedelta(hours=2)
            )
            refused = CaseReplyRefused(
                **{**self.case_fields(order), "department": sender},
                refused_at=refused_at,
                reply_type="accept",
                owner_department=order.department,
                reason="not_your_order",
            )
            self.emit(lifecycle, refused, "dispatch", refused_at)
        if rng.random() < 0.07:
            # Never accepted: the accept clock breaches, sometimes the complete clock too.
            self.breach(lifecycle, order, "accept")
            if rng.random() < 0.5:
                self.breach(lifecycle, order, "complete")
            return
        draw = rng.random()
        if draw < 0.04:
            accepted_at = order.accept_by  # on the very second: on time
        elif draw < 0.75:
            accepted_at = order.dispatched_at + _seconds(rng, timedelta(minutes=1), ACCEPT_WINDOW)
        else:
            accepted_at = order.accept_by + _seconds(rng, timedelta(seconds=1), timedelta(hours=30))
        order.accepted_at = accepted_at
        order.accept_handler = self.handler(order.department)
        accepted = CaseAccepted(
            **self.case_fields(order), accepted_at=accepted_at, handler=order.accept_handler
        )
        self.emit(lifecycle, accepted, "dispatch", accepted_at)
        self.verdict(lifecycle, order, "accept", accepted_at)

        last_move = accepted_at
        for _ in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 2))):
            extended_at = max(last_move, order.complete_by - timedelta(days=1)) + _seconds(
                rng, timedelta(minutes=5), timedelta(hours=12)
            )
            last_move = extended_at
            previous = order.complete_by
            order.complete_by = previous + timedelta(days=rng.randint(1, 4))
            extended = CaseExtended(
                **self.case_fields(order),
                extended_at=extended_at,
                previous_complete_by=previous,
                complete_by=order.complete_by,
                approved_by="center",
            )
            self.emit(lifecycle, extended, "dispatch", extended_at)

        if rng.random() < 0.12:
            if rng.random() < 0.5:
                self.breach(lifecycle, order, "complete")
            return
        draw = rng.random()
        earliest = last_move + timedelta(minutes=10)
        if draw < 0.04 and earliest <= order.complete_by:
            completed_at = order.complete_by
        elif draw < 0.72 and earliest <= order.complete_by:
            completed_at = earliest + _seconds(rng, timedelta(0), order.complete_by - earliest)
        else:
            completed_at = max(earliest, order.complete_by) + _seconds(
                rng, timedelta(hours=1), timedelta(days=5)
            )
        order.completed_at = completed_at
        order.completes_case = case_complete
        draw = rng.random()
        if draw < 0.6:
            order.complete_handler = order.accept_handler
        else:
            order.complete_handler = self.handler(order.department)
        completed = CaseCompleted(
            **self.case_fields(order),
            completed_at=completed_at,
            handler=order.complete_handler,
            result="fixed",
            case_complete=case_complete,
        )
        self.emit(lifecycle, completed, "dispatch", completed_at)
        self.verdict(lifecycle, order, "complete", completed_at)

    def breach(
        self,
        lifecycle: Lifecycle,
        order: OrderStory,
        clock: ClockName,
        replied_at: datetime | None = None,
    ) -> datetime:
        deadline = order.accept_by if clock == "accept" else order.complete_by
        fired_at = deadline + _seconds(self.rng, timedelta(seconds=1), timedelta(minutes=2))
        if replied_at is not None:
            # A reply between the deadline and the breach's sweep stops the clock there.
            fired_at = min(fired_at, replied_at)
        order.breaches.append(fired_at)
        late = (fired_at - deadline).total_seconds()
        self.sla(
            lifecycle, order, SlaBreached, clock, fired_at, fired_at=fired_at, late_seconds=late
        )
        return fired_at

    def verdict(
        self, lifecycle: Lifecycle, order: OrderStory, clock: ClockName, at: datetime
    ) -> None:
        """sla-monitor's word on a stopped clock, most of the time; silence leaves the deadline
        to decide. A working-hours calendar may call a wall-clock-late reply on time."""
        rng = self.rng
        deadline = order.accept_by if clock == "accept" else order.complete_by
        if rng.random() < 0.3:
            return
        verdict: Verdict
        if at <= deadline or rng.random() < 0.15:
            verdict = "met"
            self.sla(lifecycle, order, SlaMet, clock, at, met_at=at)
        else:
            verdict = "late"
            breached_at = self.breach(lifecycle, order, clock, replied_at=at)
            late = (at - deadline).total_seconds()
            self.sla(
                lifecycle,
                order,
                SlaSettledLate,
                clock,
                at,
                settled_at=at,
                late_seconds=late,
                breached_at=breached_at,
            )
        if clock == "accept":
            order.accept_verdict = verdict
        else:
            order.complete_verdict = verdict

    def close(
        self, lifecycle: Lifecycle, order: OrderStory, completed_at: datetime, *, reopen: bool
    ) -> None:
        rng = self.rng
        at = completed_at + _seconds(rng, timedelta(hours=1), timedelta(days=3))
        satisfied = rng.random() < 0.7
        if not satisfied and reopen and self.reopens < MAX_REOPENS:
            self.reopens += 1
            order.reopened_at = at
            complete_by = at + timedelta(days=CATEGORIES[self.category])
            new, dispatched = self.new_order(
                order.department,
                at,
                complete_by,
                role="sole",
                dispatch_reason="reopened",
                previous_order_id=order.order_id,
            )
            reopened = CaseReopened(
                **self.case_fields(new),
                reopened_at=at,
                previous_order_id=order.order_id,
                reopens=self.reopens,
                comment="still broken",
            )
            lifecycle.orders.append(new)
            self.emit(lifecycle, reopened, "dispatch", at)
            self.emit(lifecycle, dispatched, "dispatch", at)
            self.work(lifecycle, new, case_complete=True)
            if new.completed_at is not None and rng.random() < 0.85:
                self.close(lifecycle, new, new.completed_at, reopen=True)
            return
        order.satisfied = satisfied
        closed = CaseClosed(
            **self.case_fields(order), closed_at=at, satisfied=satisfied, reopens=self.reopens
        )
        self.emit(lifecycle, closed, "dispatch", at)


def _report_and_dispatch_times(rng: random.Random) -> tuple[datetime, datetime]:
    if rng.random() < 0.12:
        # Around local midnight at a month's end: 16:00 UTC on the last day is 00:00 the next
        # day in Shanghai, so a dispatch at 16:30 UTC belongs to the next month.
        month_start = rng.choice(MONTH_STARTS).astimezone(UTC)
        dispatched = month_start + _seconds(rng, -timedelta(minutes=45), timedelta(minutes=45))
        if rng.random() < 0.3:
            dispatched = month_start + timedelta(minutes=30)
        reported = dispatched - _seconds(rng, timedelta(minutes=10), timedelta(minutes=40))
        return reported, dispatched
    span = int((LAST_DAY - FIRST_DAY).total_seconds()) - 2 * 86_400
    reported = (FIRST_DAY + timedelta(seconds=rng.randrange(span))).astimezone(UTC)
    return reported, reported + _seconds(rng, timedelta(minutes=5), timedelta(hours=3))


def generate(count: int = 300, *, seed: int = SEED, token: str | None = None) -> World:
    """`count` case life cycles; the same seed gives the same stories (ids carry the token)."""
    rng = random.Random(seed)
    token = token or uuid.uuid4().hex[:6]
    departments = tuple(f"{name}-{token}" for name in DEPARTMENT_NAMES)
    handlers = {d: tuple(sorted(rng.sample(HANDLER_NAMES, 3))) for d in departments}
    grids = _pick_grids(rng)
    workers = {
        g.id: tuple(f"gw-{token}-{i:02d}{s}" for s in "ab"[: rng.choice((1, 2))])
        for i, g in enumerate(grids)
    }
    world = World(token, departments, handlers, grids, workers, [])
    for number in range(count):
        reported, dispatched = _report_and_dispatch_times(rng)
        world.lifecycles.append(_Writer(world, rng, number).write(reported, dispatched))
    return world
