"""The projection's use cases: an event in, the read model and the live view updated.

A case event is folded into its case with the stored entries (read, fold, conditional write;
another replica's write in between means fold again). The feed item is written first and by
event id, so a crash between the two writes leaves nothing the redelivery does not mend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import Message, ReportReceived
from gridloop_console.case_view import fold, summary
from gridloop_console.live import Change, LiveHub
from gridloop_console.repository import (
    FACT_FIELDS,
    CaseRepository,
    FeedRepository,
    ReportRepository,
)
from gridloop_console.timeline import entry_of, merged

log = structlog.stdlib.get_logger("gridloop.console")

# Writers of one case racing this often in a row means something else is wrong: fail, retry.
MAX_FOLDS = 20


class ProjectionConflict(RuntimeError):
    """The case kept changing under the fold; the consumer retries the message."""


@dataclass(frozen=True)
class Projection:
    cases: CaseRepository
    reports: ReportRepository
    feed: FeedRepository
    hub: LiveHub
    clock: Clock
    replica: str

    async def record_report(self, report: ReportReceived, event_id: str) -> None:
        # What a page shows of a report; the reply address (a phone number, an e-mail) and the
        # reporter's pseudonym are not needed here and are not kept.
        fields = {
            "channel": report.channel,
            "grid_id": report.grid_id,
            "township_id": report.township_id,
            "village_id": report.village_id,
            "category_code": report.category_code,
            "description": report.description,
            "reported_at": report.reported_at,
            "location": report.location.model_dump() if report.location else None,
            "location_precision": report.location_precision,
            "photos": len(report.photo_urls),
        }
        await self._add_to_feed(
            event_id,
            kind="reported",
            at=report.reported_at,
            report_id=report.report_id,
            **{name: fields[name] for name in ("grid_id", "township_id", "category_code")},
        )
        await self.reports.record(report.report_id, fields)
        self.hub.publish(Change("reported"))

    async def record_case_event(self, event: Message, event_id: str) -> None:
        case_id: str = getattr(event, "case_id")  # noqa: B009 - every timeline event has one
        entry = entry_of(event, event_id)
        facts = {name: getattr(event, name, None) for name in FACT_FIELDS}
        await self._add_to_feed(
            event_id,
            kind=entry.kind,
            at=entry.at,
            case_id=case_id,
            department=entry.department,
            **{name: facts[name] for name in ("grid_id", "township_id", "category_code")},
        )
        if await self._fold_in(case_id, entry, facts):
            self.hub.publish(Change(entry.kind, case_id))

    async def _fold_in(self, case_id: str, entry: Any, facts: dict[str, Any]) -> bool:
        for _ in range(MAX_FOLDS):
            stored = await self.cases.load(case_id)
            entries = merged(stored.entries if stored else [], entry)
            if entries is None:
                return False  # a redelivery: the entry is in the timeline already
            known = stored.facts if stored else {}
            # A fact a later event leaves out (an SLA event has no village) is not forgotten.
            all_facts = {name: facts.get(name) or known.get(name) for name in FACT_FIELDS}
            saved = await self.cases.save(
                case_id,
                all_facts,
                entries,
                summary(fold(case_id, entries)),
                version=stored.version if stored else None,
                now=self.clock.now(),
            )
            if saved:
                return True
        raise ProjectionConflict(f"{case_id} changed under {MAX_FOLDS} folds in a row")

    async def _add_to_feed(self, event_id: str, **item: Any) -> None:
        await self.feed.add(
            event_id, {**item, "projected_at": self.clock.now(), "replica": self.replica}
        )
