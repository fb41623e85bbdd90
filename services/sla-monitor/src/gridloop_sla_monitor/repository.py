"""sla-monitor's own database: timers (each changed with the events it causes) and leases."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridloop_common.contracts import CaseDispatched, CaseEvent
from gridloop_common.contracts.sla import ClockName
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, Document, DuplicateKeyError, IndexSpec
from gridloop_common.outbox import RelayNow, with_outbox
from gridloop_common.periods import period_keys
from gridloop_sla_monitor.board import OpenClock, VerdictRow
from gridloop_sla_monitor.clocks import (
    ACCEPT,
    COMPLETE,
    COOPERATING,
    OPEN_STATES,
    ClockFacts,
    Mark,
    TimerState,
    Verdict,
)

TIMERS = "timers"
LEASES = "leases"
WATERMARKS = "watermarks"
# What the board and the API read: never the outbox.
NO_OUTBOX = {"outbox": 0}
# The verdict period key that every verdict has: the rates of all time.
ALL_TIME = "all"

INDEXES = [
    # The scan: "partition p, next mark due by t, earliest first". The stand-in decodes every
    # match of a query, so the scan asks one partition and a short horizon at a time.
    IndexSpec(TIMERS, [("partition", 1), ("next_at", 1)]),
    # A case's clocks: closing stops them all; a joint action's lead finds the case's main clock.
    IndexSpec(TIMERS, [("case_id", 1)]),
    # The board: open clocks.
    IndexSpec(TIMERS, [("state", 1)]),
    # The rates: clocks with a verdict, in one period or in all time ("all" is one of the keys).
    IndexSpec(TIMERS, [("verdict_periods", 1)]),
    # Heartbeats of replicas gone for an hour are deleted (the stand-in sweeps TTL indexes every
    # 60 s; nothing depends on when: an expired heartbeat is ignored by its `expires_at`).
    IndexSpec(LEASES, [("forget_at", 1)], options={"expireAfterSeconds": 0}),
]


def order_fields(event: CaseEvent) -> Document:
    fields: Document = {
        "order_id": event.order_id,
        "case_id": event.case_id,
        "department": event.department,
        "category_code": event.category_code,
        "grid_id": event.grid_id,
        "township_id": event.township_id,
    }
    if isinstance(event, CaseDispatched):
        fields["role"] = event.role
    return fields


def marks_document(marks: Sequence[Mark]) -> list[Document]:
    return [{"threshold": mark.threshold, "at": mark.at} for mark in marks]


def marks_of(document: Document) -> tuple[Mark, ...]:
    return tuple(Mark(entry["threshold"], entry["at"]) for entry in document["marks"])


@dataclass(frozen=True)
class NewClock:
    """A clock as a dispatch starts it."""

    timer: str
    clock: ClockName
    partition: int
    calendar: str
    started_at: datetime
    due_at: datetime
    marks: tuple[Mark, ...]

    def document(
        self,
        event: CaseDispatched,
        *,
        event_id: str,
        correlation_id: str | None,
        complete_timer: str | None = None,
    ) -> Document:
        document: Document = {
            "_id": self.timer,
            **order_fields(event),
            "clock": self.clock,
            "partition": self.partition,
            "state": TimerState.RUNNING.value,
            "calendar": self.calendar,
            "started_at": self.started_at,
            "due_at": self.due_at,
            "marks": marks_document(self.marks),
            "passed": 0,
            "next_at": self.marks[0].at,
            "dispatch_event_id": event_id,
            "correlation_id": correlation_id,
        }
        if self.clock == ACCEPT:
            document["complete_timer"] = complete_timer
        else:
            # The orders that held this share's clock, in turn; the last one holds it now.
            document["orders"] = [event.order_id]
            document["main"] = event.role != COOPERATING
        return document


def facts_of(document: Document) -> ClockFacts:
    return ClockFacts(
        order_id=document["order_id"],
        case_id=document["case_id"],
        department=document["department"],
        clock=document["clock"],
        due_at=document["due_at"],
        category_code=document.get("category_code"),
        grid_id=document.get("grid_id"),
        township_id=document.get("township_id"),
        started_at=document.get("started_at"),
        calendar=document.get("calendar"),
        role=document.get("role"),
    )


@dataclass(frozen=True)
class MarkRecord:
    """A warning mark of a clock, and whether the scan announced or skipped it."""

    threshold: float
    at: datetime
    fired_at: datetime | None = None
    skipped: bool = False


@dataclass(frozen=True)
class ExtensionRecord:
    """An extension the clock heard: its deadline before and after, and whether it moved it."""

    extended_at: datetime
    before: datetime
    after: datetime
    applied: bool


@dataclass(frozen=True)
class ClockRecord:
    """One clock as the API shows it: what it times, where it stands, what it decided."""

    timer: str
    clock: ClockName
    state: TimerState
    order_id: str
    case_id: str
    department: str
    calendar: str | None
    started_at: datetime | None
    due_at: datetime | None
    marks: tuple[MarkRecord, ...]
    fired_at: datetime | None = None
    late_seconds: float | None = None
    settled_at: datetime | None = None
    verdict: Verdict | None = None
    stop_reason: str | None = None
    rejected_at: datetime | None = None
    # Complete clocks: the orders that held this share's clock, in turn.
    orders: tuple[str, ...] = ()
    extensions: tuple[ExtensionRecord, ...] = ()

    def warning_marks(self) -> tuple[Mark, ...]:
        return tuple(Mark(m.threshold, m.at) for m in self.marks)


def _clock_record(document: Document) -> ClockRecord:
    verdict = document.get("verdict")
    return ClockRecord(
        timer=document["_id"],
        clock=document["clock"],
        state=TimerState(document["state"]),
        order_id=document["order_id"],
        case_id=document["case_id"],
        department=document["department"],
        calendar=document.get("calendar"),
        started_at=document.get("started_at"),
        due_at=document.get("due_at"),
        marks=tuple(
            MarkRecord(m["threshold"], m["at"], m.get("fired_at"), bool(m.get("skipped")))
            for m in document.get("marks") or ()
        ),
        fired_at=document.get("fired_at"),
        late_seconds=document.get("late_seconds"),
        settled_at=document.get("settled_at"),
        verdict=Verdict(verdict) if verdict else None,
        stop_reason=document.get("stop_reason"),
        rejected_at=document.get("rejected_at"),
        orders=tuple(document.get("orders") or ()),
        extensions=tuple(
            ExtensionRecord(e["extended_at"], e["from"], e["to"], bool(e["applied"]))
            for e in document.get("extensions") or ()
        ),
    )


def _open_clock(document: Document) -> OpenClock:
    return OpenClock(
        order_id=document["order_id"],
        case_id=document["case_id"],
        department=document["department"],
        township_id=document.get("township_id"),
        clock=document["clock"],
        state=TimerState(document["state"]),
        started_at=document["started_at"],
        due_at=document["due_at"],
        marks=marks_of(document),
        calendar=document.get("calendar") or "wall-clock",
    )


def verdict_fields(verdict: Verdict, at: datetime, department: str) -> Document:
    """A clock's verdict for the rates, counted in the Shanghai periods `at` falls in."""
    return {
        "verdict": verdict.value,
        "verdict_at": at,
        "verdict_department": department,
        "verdict_periods": [*period_keys(at).values(), ALL_TIME],
    }


class TimerRepository:
    def __init__(self, timers: Collection, relay_now: RelayNow) -> None:
        self.timers = timers
        self._relay_now = relay_now

    async def insert(self, document: Document) -> bool:
        """Store a new timer; False if its derived `_id` is taken (the work is already done)."""
        try:
            await self.timers.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, timer: str) -> Document | None:
        return await self.timers.find_one({"_id": timer}, NO_OUTBOX)

    async def for_order(self, order_id: str) -> list[ClockRecord]:
        """The order's accept clock and the complete clock of its share, by `_id` only."""
        accept = await self.get(f"{order_id}:{ACCEPT}")
        if accept is None:
            return []
        complete = await self.get(accept.get("complete_timer") or f"{order_id}:{COMPLETE}")
        found = [accept] if complete is None else [accept, complete]
        return [_clock_record(document) for document in found]

    async def open_main_clocks(self, case_id: str) -> list[Document]:
        cursor = self.timers.find(
            {
                "case_id": case_id,
                "clock": COMPLETE,
                "main": True,
                "state": {"$in": list(OPEN_STATES)},
            },
            NO_OUTBOX,
        ).sort("started_at", 1)
        return [document async for document in cursor]

    async def open_clocks_of_case(
        self, case_id: str, started_by: datetime, other_than: str = ""
    ) -> list[str]:
        """Ids of the case's clocks open and started by `started_by` (but `other_than`'s)."""
        cursor = self.timers.find(
            {
                "case_id": case_id,
                "state": {"$in": list(OPEN_STATES)},
                "started_at": {"$lte": started_by},
            },
            {"_id": 1, "order_id": 1},
        )
        return [d["_id"] async for d in cursor if d.get("order_id") != other_than]

    async def upcoming(self, partition: int, until: datetime, limit: int) -> list[Document]:
        """Clocks of one partition whose next mark falls by `until`, earliest first."""
        cursor = (
            self.timers.find(
                {"partition": partition, "next_at": {"$lte": until}},
                {"outbox": 0, "orders": 0, "extensions": 0},
            )
            .sort("next_at", 1)
            .limit(limit)
        )
        return [document async for document in cursor]

    async def open_clocks(self) -> list[OpenClock]:
        cursor = self.timers.find(
            {"state": {"$in": list(OPEN_STATES)}},
            {
                "order_id": 1,
                "case_id": 1,
                "department": 1,
                "township_id": 1,
                "clock": 1,
                "state": 1,
                "started_at": 1,
                "due_at": 1,
                "marks": 1,
                "calendar": 1,
            },
        )
        return [_open_clock(document) async for document in cursor]

    async def verdicts(self, period_key: str | None) -> list[VerdictRow]:
        cursor = self.timers.find(
            {"verdict_periods": period_key or ALL_TIME},
            {"clock": 1, "verdict": 1, "verdict_department": 1},
        )
        return [
            VerdictRow(d["clock"], Verdict(d["verdict"]), d["verdict_department"])
            async for d in cursor
        ]

    async def transition(
        self,
        timer: str,
        expected: Document,
        fields: Document,
        events: Sequence[Outgoing],
        now: datetime,
        *,
        unset: Sequence[str] = (),
        push: Document | None = None,
        add_to_set: Document | None = None,
        array_filters: Sequence[Document] | None = None,
    ) -> bool:
        """Change a timer only if it still matches `expected`, its events in the same update.

        The condition is the claim: of several replicas or concurrent handlers, exactly one
        matches, so a clock fires or settles once. Returns whether this caller won.
        """
        update: dict[str, Any] = {"$set": dict(fields)}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        if push:
            update["$push"] = dict(push)
        if add_to_set:
            update["$addToSet"] = dict(add_to_set)
        if events:
            update = with_outbox(update, events, now)
        result = await self.timers.update_one(
            {"_id": timer, **expected},
            update,
            array_filters=list(array_filters) if array_filters else None,
        )
        if result.matched_count != 1:
            return False
        if events:
            # Handed over with the events: the relay need not read them back.
            self._relay_now(self.timers, timer, events)
        return True

    async def stop_case(self, case_id: str, reason: str, at: datetime, now: datetime) -> int:
        """Stop every clock of a case open and started by `at`; no events (closing is no
        verdict). A clock started later belongs to a later round (a reopened case): an old
        round's completion handled late must not stop it. Returns how many."""
        result = await self.timers.update_many(
            {"case_id": case_id, "state": {"$in": list(OPEN_STATES)}, "started_at": {"$lte": at}},
            {
                "$set": {
                    "state": TimerState.STOPPED.value,
                    "stop_reason": reason,
                    "stopped_at": at,
                    "updated_at": now,
                },
                "$unset": {"next_at": ""},
            },
        )
        return result.modified_count


@dataclass(frozen=True)
class LeaseDocument:
    partition: int
    owner: str | None
    expires_at: datetime | None


class WatermarkRepository:
    """How far dispatch has published its case events (the latest watermark any replica heard)."""

    DISPATCH = "dispatch"

    def __init__(self, watermarks: Collection) -> None:
        self.watermarks = watermarks

    async def raise_to(self, published_until: datetime, now: datetime) -> None:
        await self.watermarks.update_one(
            {"_id": self.DISPATCH},
            {"$max": {"published_until": published_until}, "$set": {"heard_at": now}},
            upsert=True,
        )

    async def dispatch(self) -> datetime | None:
        document = await self.watermarks.find_one({"_id": self.DISPATCH})
        return None if document is None else document.get("published_until")


class LeaseRepository:
    """Partition leases and replica heartbeats, in one small collection.

    `_id`s: `config` (the partition count, fixed at first start), `partition:<n>` (owner,
    expires_at), `member:<replica>` (a heartbeat: expires_at).
    """

    def __init__(self, leases: Collection) -> None:
        self.leases = leases

    async def partition_count(self, wanted: int) -> int:
        """The count stored by the first replica ever started; later settings cannot change it,
        or timers already stored under the old count would belong to no partition."""
        with contextlib.suppress(DuplicateKeyError):
            await self.leases.insert_one({"_id": "config", "partitions": wanted})
        config = await self.leases.find_one({"_id": "config"})
        if config is None:  # pragma: no cover - inserted or found just above
            raise RuntimeError("lease configuration vanished")
        count: int = config["partitions"]
        return count

    async def heartbeat(self, replica: str, expires_at: datetime, forget_at: datetime) -> None:
        await self.leases.update_one(
            {"_id": f"member:{replica}"},
            {"$set": {"kind": "member", "expires_at": expires_at, "forget_at": forget_at}},
            upsert=True,
        )

    async def forget(self, replica: str) -> None:
        await self.leases.delete_one({"_id": f"member:{replica}"})

    async def snapshot(self) -> tuple[list[LeaseDocument], dict[str, datetime]]:
        """Every partition lease, and every member's heartbeat expiry."""
        leases: list[LeaseDocument] = []
        members: dict[str, datetime] = {}
        async for document in self.leases.find({}):
            key: str = document["_id"]
            if key.startswith("partition:"):
                leases.append(
                    LeaseDocument(
                        document["partition"], document.get("owner"), document.get("expires_at")
                    )
                )
            elif key.startswith("member:"):
                members[key.removeprefix("member:")] = document["expires_at"]
        return leases, members

    async def claim(self, partition: int, replica: str, now: datetime, until: datetime) -> bool:
        """Take a free or expired lease; False if another replica holds it."""
        try:
            result = await self.leases.update_one(
                {
                    "_id": f"partition:{partition}",
                    "$or": [{"owner": None}, {"expires_at": {"$lte": now}}],
                },
                {
                    "$set": {
                        "partition": partition,
                        "owner": replica,
                        "expires_at": until,
                        "claimed_at": now,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            # The lease exists and is held: the upsert's insert collided with it.
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    async def renew(self, partition: int, replica: str, until: datetime) -> bool:
        result = await self.leases.update_one(
            {"_id": f"partition:{partition}", "owner": replica},
            {"$set": {"expires_at": until}},
        )
        return result.matched_count == 1

    async def release(self, partition: int, replica: str, now: datetime) -> None:
        await self.leases.update_one(
            {"_id": f"partition:{partition}", "owner": replica},
            {"$set": {"owner": None, "expires_at": now}},
        )
