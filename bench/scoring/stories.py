"""Realistic event streams for the scoring benchmark: whole case stories over real grids.

A story is what the other services publish about one report: intake's `report.received`, then
either a local resolution by the grid worker, or dispatch's order events (dispatched, accepted,
completed, closed, now and then rejected and re-dispatched, extended or reopened) with
sla-monitor's verdicts on both clocks (met, or breached and settled late; a warning on some).
Grids, villages, townships and grid workers come from the registry; departments and deadlines
from the catalogue; each department has a small pool of named handlers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from gridloop_common.catalogue import CATEGORIES, DEPARTMENTS
from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    CaseReopened,
    CaseResolvedLocally,
    ReportReceived,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
)
from gridloop_common.contracts.base import Event
from gridloop_common.registry import Grid, load_registry

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明")
HANDLERS_PER_DEPARTMENT = 12
ACCEPT_WINDOW = timedelta(hours=8)
CHANNELS = (("patrol", 35), ("chat_group", 35), ("hotline", 15), ("native", 15))


@dataclass(frozen=True)
class Timed:
    """One event of a story and when it happened (what a stream is sorted by)."""

    at: datetime
    event: Event


class Stories:
    """Case stories with deterministic randomness; `prefix` keeps ids unique between runs."""

    def __init__(self, seed: int, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.prefix = prefix
        registry = load_registry()
        self.grids = registry.grids
        self.worker_of = {
            o.grid_id: o.id
            for o in registry.officers_of_grids(g.id for g in self.grids)
            if o.role == "grid_worker"
        }
        self.fallback_owner = registry.fallback_owner
        codes = {d.code for d in DEPARTMENTS}
        self.categories = [c for c in CATEGORIES if c.department in codes]
        names = [s + g for s in SURNAMES for g in GIVEN]
        self.handlers = {
            d.code: random.Random(d.code).sample(names, HANDLERS_PER_DEPARTMENT)
            for d in DEPARTMENTS
        }
        self.cases = 0

    def story(self, start: datetime, span: timedelta) -> list[Timed]:
        """One case, reported at a random moment of [start, start + span)."""
        rng = self.rng
        self.cases += 1
        case_id = f"{self.prefix}-case-{self.cases:07d}"
        grid = rng.choice(self.grids)
        category = rng.choice(self.categories)
        reported_at = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        worker = self.worker_of.get(grid.id)
        area = {
            "case_id": case_id,
            "category_code": category.code,
            "grid_id": grid.id,
            "township_id": grid.township_id,
            "village_id": grid.village_id,
            "report_id": f"{self.prefix}-rpt-{self.cases:07d}",
        }
        out = [
            Timed(
                reported_at,
                ReportReceived(
                    report_id=area["report_id"],
                    channel=channel,
                    grid_id=grid.id,
                    village_id=grid.village_id,
                    township_id=grid.township_id,
                    category_code=category.code,
                    description=f"{category.name_zh}，请尽快处理",  # noqa: RUF001
                    reported_at=reported_at,
                    worker_id=worker if channel == "patrol" else None,
                ),
            )
        ]
        if rng.random() < 0.12:
            resolved_at = reported_at + timedelta(minutes=rng.uniform(20, 600))
            out.append(
                Timed(
                    resolved_at,
                    CaseResolvedLocally(
                        **area,
                        operator=worker,
                        resolved_at=resolved_at,
                        resolution="村里协调解决",
                    ),
                )
            )
            return out
        department = category.department
        if rng.random() < 0.1:
            department = self.fallback_owner(grid.id)
        dispatched_at = reported_at + timedelta(minutes=rng.uniform(5, 90))
        order = 1
        if rng.random() < 0.05:
            # Rejected: the order goes to the grid's township government instead.
            out += self._rejected(area, department, grid, order, dispatched_at, category)
            rejected_at = dispatched_at + timedelta(hours=rng.uniform(0.5, 6))
            department, dispatched_at, order = self.fallback_owner(grid.id), rejected_at, 2
        out += self._order(area, department, order, dispatched_at, category.complete_within_hours)
        return out

    def _order_id(self, area: dict[str, str], order: int) -> str:
        return f"{area['case_id']}-o{order}"

    def _rejected(
        self,
        area: dict[str, str],
        department: str,
        grid: Grid,
        order: int,
        dispatched_at: datetime,
        category: object,
    ) -> list[Timed]:
        order_id = self._order_id(area, order)
        rejected_at = dispatched_at + timedelta(hours=self.rng.uniform(0.5, 6))
        return [
            Timed(
                dispatched_at,
                CaseDispatched(
                    **area,
                    order_id=order_id,
                    department=department,
                    dispatched_at=dispatched_at,
                    accept_by=dispatched_at + ACCEPT_WINDOW,
                    complete_by=dispatched_at + timedelta(hours=72),
                    role="sole",
                ),
            ),
            Timed(
                rejected_at,
                CaseRejected(
                    **area,
                    order_id=order_id,
                    department=department,
                    rejected_at=rejected_at,
                    reason_code="not_ours",
                    rejections=1,
                ),
            ),
        ]

    def _order(
        self,
        area: dict[str, str],
        department: str,
        order: int,
        dispatched_at: datetime,
        within_hours: float,
    ) -> list[Timed]:
        rng = self.rng
        order_id = self._order_id(area, order)
        ids = {**area, "order_id": order_id, "department": department}
        accept_by = dispatched_at + ACCEPT_WINDOW
        complete_by = dispatched_at + timedelta(hours=within_hours)
        sla = {
            "order_id": order_id,
            "case_id": area["case_id"],
            "department": department,
            "category_code": area["category_code"],
            "grid_id": area["grid_id"],
            "township_id": area["township_id"],
            "started_at": dispatched_at,
            "calendar": "wall-clock",
            "role": "sole",
        }
        out = [
            Timed(
                dispatched_at,
                CaseDispatched(
                    **ids,
                    dispatched_at=dispatched_at,
                    accept_by=accept_by,
                    complete_by=complete_by,
                    role="sole",
                    dispatch_reason="routed",
                ),
            )
        ]
        handler = rng.choice(self.handlers[department])
        if rng.random() < 0.03:  # never accepted (still open, or forgotten): one breach
            out.append(
                Timed(
                    accept_by,
                    SlaBreached(
                        **sla,
                        clock="accept",
                        deadline=accept_by,
                        fired_at=accept_by,
                        late_seconds=0.5,
                    ),
                )
            )
            return out
        accepted_at = dispatched_at + timedelta(hours=rng.lognormvariate(0.3, 0.9))
        out += self._verdict(sla, "accept", accept_by, accepted_at, dispatched_at)
        out.append(
            Timed(accepted_at, CaseAccepted(**ids, accepted_at=accepted_at, handler=handler))
        )
        if rng.random() < 0.03:
            extended_at = accepted_at + timedelta(hours=rng.uniform(1, 24))
            previous, complete_by = complete_by, complete_by + timedelta(hours=72)
            out.append(
                Timed(
                    extended_at,
                    CaseExtended(
                        **ids,
                        extended_at=extended_at,
                        previous_complete_by=previous,
                        complete_by=complete_by,
                        reason="需要第三方配合",
                    ),
                )
            )
        if rng.random() < 0.04:  # accepted, not completed yet
            return out
        share = rng.betavariate(2.0, 3.5) * 1.25  # of the time the category allows
        completed_at = max(
            accepted_at + timedelta(minutes=10),
            dispatched_at + timedelta(hours=within_hours * share),
        )
        out += self._verdict(sla, "complete", complete_by, completed_at, dispatched_at)
        out.append(
            Timed(
                completed_at,
                CaseCompleted(**ids, completed_at=completed_at, handler=handler, result="已处理"),
            )
        )
        if rng.random() < 0.12:  # the reporter never answered
            return out
        closed_at = completed_at + timedelta(hours=rng.uniform(2, 72))
        satisfied = rng.random() < 0.9
        out.append(Timed(closed_at, CaseClosed(**ids, closed_at=closed_at, satisfied=satisfied)))
        if not satisfied and rng.random() < 0.4:
            reopened_at = closed_at + timedelta(minutes=5)
            out.append(
                Timed(
                    reopened_at,
                    CaseReopened(
                        **{**ids, "order_id": self._order_id(area, order + 1)},
                        reopened_at=reopened_at,
                        previous_order_id=order_id,
                        reopens=1,
                    ),
                )
            )
        return out

    def _verdict(
        self,
        sla: dict[str, object],
        clock: str,
        deadline: datetime,
        done_at: datetime,
        started_at: datetime,
    ) -> list[Timed]:
        out: list[Timed] = []
        warn_at = started_at + (deadline - started_at) * 0.75
        if done_at > warn_at:
            out.append(
                Timed(
                    warn_at,
                    SlaWarning(
                        **sla, clock=clock, deadline=deadline, fired_at=warn_at, threshold=0.75
                    ),
                )
            )
        if done_at <= deadline:
            out.append(
                Timed(done_at, SlaMet(**sla, clock=clock, deadline=deadline, met_at=done_at))
            )
            return out
        late = (done_at - deadline).total_seconds()
        out.append(
            Timed(
                deadline,
                SlaBreached(
                    **sla, clock=clock, deadline=deadline, fired_at=deadline, late_seconds=0.5
                ),
            )
        )
        out.append(
            Timed(
                done_at,
                SlaSettledLate(
                    **sla,
                    clock=clock,
                    deadline=deadline,
                    settled_at=done_at,
                    late_seconds=late,
                    breached_at=deadline,
                ),
            )
        )
        return out

    def stream(self, count: int, start: datetime, span: timedelta) -> list[Timed]:
        """At least `count` events of whole stories in [start, start + span), in time order."""
        events: list[Timed] = []
        while len(events) < count:
            events += self.story(start, span)
        events.sort(key=lambda t: t.at)
        return events

    def batches(
        self, count: int, start: datetime, span: timedelta, size: int
    ) -> Iterator[list[Timed]]:
        """About `count` events of whole stories, in batches of about `size` (unsorted)."""
        made = 0
        while made < count:
            batch: list[Timed] = []
            while len(batch) < size and made + len(batch) < count:
                batch += self.story(start, span)
            made += len(batch)
            yield batch


def event_id() -> str:
    return str(uuid.uuid4())
