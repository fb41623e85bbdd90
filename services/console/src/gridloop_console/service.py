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
    OpenOrderBoard,
    ReportRepository,
)
from gridloop_console.timeline import Entry, entry_of, merged

log = structlog.stdlib.get_logger("gridloop.console")

# Writers of one case racing this often in a row means something else is wrong: fail, retry.
MAX_FOLDS = 20


@dataclass(frozen=True)
class Folded:
    """A case after an event was folded in (or found there already)."""

    changed: bool
    version: int
    facts: dict[str, Any]
    summary: dict[str, Any]

    def board_fields(self) -> dict[str, Any]:
        return {
            "open": self.summary["open"],
            "open_orders": self.summary["open_orders"],
            **{name: self.facts.get(name) for name in ("township_id", "grid_id", "category_code")},
        }


class ProjectionConflict(RuntimeError):
    """The case kept changing under the fold; the consumer retries the message."""


@dataclass(frozen=True)
class Projection:
    cases: CaseRepository
    board: OpenOrderBoard
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
        folded = await self._fold_in(case_id, entry, facts)
        # Also after a redelivery: the board write may be what a crash cut off.
        await self.board.show(case_id, folded.version, folded.board_fields())
        if folded.changed:
            self.hub.publish(Change(entry.kind, case_id))

    async def _fold_in(self, case_id: str, entry: Entry, facts: dict[str, Any]) -> Folded:
        for _ in range(MAX_FOLDS):
            stored = await self.cases.load(case_id)
            entries = merged(stored.entries if stored else [], entry)
            if entries is None:  # a redelivery: the entry is in the timeline already
                assert stored is not None
                view = summary(fold(case_id, stored.entries))
                return Folded(False, stored.version, stored.facts, view)
            known = stored.facts if stored else {}
            # A fact a later event leaves out (an SLA event has no village) is not forgotten.
            all_facts = {name: facts.get(name) or known.get(name) for name in FACT_FIELDS}
            view = summary(fold(case_id, entries))
            version = stored.version if stored else None
            saved = await self.cases.save(
                case_id, all_facts, entries, view, version=version, now=self.clock.now()
            )
            if saved:
                return Folded(True, (version or 0) + 1, all_facts, view)
        raise ProjectionConflict(f"{case_id} changed under {MAX_FOLDS} folds in a row")

    async def _add_to_feed(self, event_id: str, **item: Any) -> None:
        await self.feed.add(
            event_id, {**item, "projected_at": self.clock.now(), "replica": self.replica}
        )
