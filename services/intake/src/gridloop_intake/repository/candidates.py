"""Finding the open reports a new report may duplicate, for many concurrent reports in one query."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gridloop_common.coalescing import Coalescer
from gridloop_common.contracts import GeoPoint
from gridloop_common.mongo import Collection, Document
from gridloop_intake.duplicates import OpenReport
from gridloop_intake.submission import FINISHED

# A finished report, or one that is itself a duplicate, attracts no duplicates.
CLOSED_TO_DUPLICATES = frozenset({*FINISHED, "linked"})
# The indexed field that says where a report's duplicates are looked for: category, township, day.
DUPLICATE_KEY = "duplicate_key"
# At most this many candidates per report are compared; more only in a flood of reports of one
# problem, where any open one of them is as good an original as another.
PER_REPORT_LIMIT = 500
_FIELDS = ("category_code", "grid_id", "reported_at", "description", "location", "status")
_PROJECTION = dict.fromkeys((DUPLICATE_KEY, *_FIELDS), 1)


def duplicate_key(category_code: str, township_id: str | None, reported_at: datetime) -> str:
    """Duplicates are of the same category in the same township (a township's grids are close
    enough for any category's distance) and near in time. One field, bucketed by UTC day, so that
    one `$in` of exact keys asks for many reports' candidates at once: the stand-in answers `$in`
    with a range beside it by reading every document of the keys, however old; with the day in
    the key, it reads only the days a window covers."""
    return f"{category_code}@{township_id or ''}@{reported_at.astimezone(UTC).date().isoformat()}"


@dataclass(frozen=True)
class CandidateQuery:
    keys: tuple[str, ...]
    earliest: datetime
    latest: datetime


class DuplicateCandidates:
    """Open original reports of a category in a township within a window around a time.

    Reports arriving together are looked up in one query over all their keys: per report, a
    query of its own cost intake a round trip (about a fifth of its samples in a profile under
    bench/intake) and the stand-in a command. The query names only the indexed key; status and
    each report's own window are checked here, because a predicate outside the index made the
    stand-in scan the collection.
    """

    def __init__(self, reports: Collection) -> None:
        self._reports = reports
        self._coalescer: Coalescer[CandidateQuery, list[OpenReport]] = Coalescer(self._lookup)

    async def open_reports(
        self, category_code: str, township_id: str | None, around: datetime, window: timedelta
    ) -> list[OpenReport]:
        earliest, latest = around - window, around + window
        days = (latest.astimezone(UTC).date() - earliest.astimezone(UTC).date()).days
        keys = tuple(
            duplicate_key(category_code, township_id, earliest + timedelta(days=day))
            for day in range(days + 1)
        )
        return await self._coalescer.submit(CandidateQuery(keys, earliest, latest))

    async def _lookup(self, queries: list[CandidateQuery]) -> list[list[OpenReport]]:
        keys = sorted({key for query in queries for key in query.keys})
        limit = PER_REPORT_LIMIT * len(queries)
        found = await self._find(keys, limit)
        if len(found) >= limit and len(queries) > 1:
            # Full: one report's candidates may have crowded out another's; ask for each apart.
            return [(await self._lookup([query]))[0] for query in queries]
        by_key: defaultdict[str, list[Document]] = defaultdict(list)
        for document in found:
            by_key[document[DUPLICATE_KEY]].append(document)
        return [
            [
                _open_report(document)
                for key in query.keys
                for document in by_key[key]
                if query.earliest <= document["reported_at"] <= query.latest
                and document.get("status") not in CLOSED_TO_DUPLICATES
            ]
            for query in queries
        ]

    async def _find(self, keys: list[str], limit: int) -> list[Document]:
        selector = {DUPLICATE_KEY: keys[0] if len(keys) == 1 else {"$in": keys}}
        cursor = self._reports.find(selector, _PROJECTION).limit(limit)
        return [document async for document in cursor]


def _open_report(document: Document) -> OpenReport:
    location = document.get("location")
    return OpenReport(
        report_id=document["_id"],
        category_code=document["category_code"],
        grid_id=document["grid_id"],
        reported_at=document["reported_at"],
        description=document["description"],
        location=GeoPoint(**location) if location else None,
    )
