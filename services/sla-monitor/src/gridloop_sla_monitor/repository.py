"""sla-monitor's own database: timers (each changed with the events it causes) and leases."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
    Mark,
    TimerState,
    Verdict,
)
from gridloop_sla_monitor.evidence import MemberBeat
from gridloop_sla_monitor.timer import (
    ExtensionRecord,
    MarkRecord,
    Timer,
    TimerChange,
    VerdictStamp,
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


def timer_of(document: Document) -> Timer:
    verdict = document.get("verdict")
    return Timer(
        timer=document["_id"],
        clock=document["clock"],
        state=TimerState(document["state"]),
        order_id=document["order_id"],
        case_id=document["case_id"],
        department=document["department"],
        due_at=document["due_at"],
        partition=document["partition"],
        marks=tuple(
            MarkRecord(m["threshold"], m["at"], m.get("fired_at"), bool(m.get("skipped")))
            for m in document.get("marks") or ()
        ),
        passed=document.get("passed", 0),
        next_at=document.get("next_at"),
        calendar=document.get("calendar"),
        started_at=document.get("started_at"),
        category_code=document.get("category_code"),
        grid_id=document.get("grid_id"),
        township_id=document.get("township_id"),
        role=document.get("role"),
        correlation_id=document.get("correlation_id"),
        complete_timer=document.get("complete_timer"),
        orders=tuple(document.get("orders") or ()),
        last_extended_at=document.get("last_extended_at"),
        extensions=tuple(
            ExtensionRecord(e["extended_at"], e["from"], e["to"], bool(e["applied"]))
            for e in document.get("extensions") or ()
        ),
        fired_at=document.get("fired_at"),
        late_seconds=document.get("late_seconds"),
        settled_at=document.get("settled_at"),
        verdict=Verdict(verdict) if verdict else None,
        stop_reason=document.get("stop_reason"),
        rejected_at=document.get("rejected_at"),
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
        marks=tuple(Mark(m["threshold"], m["at"]) for m in document["marks"]),
        calendar=document.get("calendar") or "wall-clock",
    )


def _verdict_fields(stamp: VerdictStamp) -> Document:
    """A clock's verdict for the rates, counted in the Shanghai periods its time falls in."""
    return {
        "verdict": stamp.verdict.value,
        "verdict_at": stamp.at,
        "verdict_department": stamp.department,
        "verdict_periods": [*period_keys(stamp.at).values(), ALL_TIME],
    }


def update_document(change: TimerChange, now: datetime) -> tuple[Document, list[Document]]:
    """The update document that writes `change`, and the array filters it needs."""
    fields: Document = {"updated_at": now}
    if change.state is not None:
        fields["state"] = change.state.value
    if change.verdict is not None:
        fields |= _verdict_fields(change.verdict)
    optional = {
        "fired_at": change.fired_at,
        "late_seconds": change.late_seconds,
        "settled_at": change.settled_at,
        "settled_late_seconds": change.settled_late_seconds,
        "due_at": change.due_at,
        "passed": change.passed,
        "last_extended_at": change.last_extended_at,
    }
    fields |= {name: value for name, value in optional.items() if value is not None}
    if change.stop is not None:
        fields |= {"stop_reason": change.stop.reason, "stopped_at": change.stop.at}
        if change.stop.rejected_at is not None:
            fields |= {
                "rejected_at": change.stop.rejected_at,
                "reason_code": change.stop.reason_code,
            }
    if change.marks is not None:
        fields["marks"] = marks_document(change.marks)
    filters: list[Document] = []
    if change.announced is not None:
        fields["marks.$[announced].fired_at"] = now
        filters.append({"announced.threshold": change.announced})
    if change.skipped:
        fields["marks.$[skipped].skipped"] = True
        filters.append({"skipped.threshold": {"$in": list(change.skipped)}})
    update: Document = {"$set": fields}
    if change.reschedule and change.next_at is not None:
        fields["next_at"] = change.next_at
    elif change.reschedule:
        update["$unset"] = {"next_at": ""}
    if change.extension is not None:
        e = change.extension
        update["$push"] = {
            "extensions": {
                "extended_at": e.extended_at,
                "from": e.before,
                "to": e.after,
                "applied": e.applied,
            }
        }
    return update, filters


class TimerRepository:
    def __init__(self, timers: Collection, relay_now: RelayNow) -> None:
        self.timers = timers
        self._relay_now = relay_now

    async def insert(
        self,
        new: NewClock,
        event: CaseDispatched,
        *,
        event_id: str,
        correlation_id: str | None,
        complete_timer: str | None = None,
    ) -> bool:
        """Store a new timer; False if its derived `_id` is taken (the work is already done)."""
        document = new.document(
            event, event_id=event_id, correlation_id=correlation_id, complete_timer=complete_timer
        )
        try:
            await self.timers.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, timer: str) -> Timer | None:
        document = await self.timers.find_one({"_id": timer}, NO_OUTBOX)
        return None if document is None else timer_of(document)

    async def for_order(self, order_id: str) -> list[Timer]:
        """The order's accept clock and the complete clock of its share, by `_id` only."""
        accept = await self.get(f"{order_id}:{ACCEPT}")
        if accept is None:
            return []
        complete = await self.get(accept.complete_timer or f"{order_id}:{COMPLETE}")
        return [accept] if complete is None else [accept, complete]

    async def open_main_clocks(self, case_id: str) -> list[Timer]:
        cursor = self.timers.find(
            {
                "case_id": case_id,
                "clock": COMPLETE,
                "main": True,
                "state": {"$in": list(OPEN_STATES)},
            },
            NO_OUTBOX,
        ).sort("started_at", 1)
        return [timer_of(document) async for document in cursor]

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

    async def upcoming(self, partition: int, until: datetime, limit: int) -> list[Timer]:
        """Clocks of one partition whose next mark falls by `until`, earliest first."""
        cursor = (
            self.timers.find(
                {"partition": partition, "next_at": {"$lte": until}},
                {"outbox": 0, "orders": 0, "extensions": 0},
            )
            .sort("next_at", 1)
            .limit(limit)
        )
        # Without the orders and extensions: the scan needs neither.
        return [timer_of(document) async for document in cursor]

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

    async def apply(
        self, timer: Timer, change: TimerChange, events: Sequence[Outgoing], now: datetime
    ) -> bool:
        """Write `change` and its events in one update, only if the timer is still as read.

        The condition is the claim: of several replicas or concurrent handlers, exactly one
        matches, so a clock fires or settles once. Returns whether this caller won.
        """
        expected: Document = {"state": timer.state.value, "due_at": timer.due_at}
        if change.passed is not None:
            expected["passed"] = timer.passed
        update, filters = update_document(change, now)
        return await self._write(
            timer.timer, expected=expected, update=update, events=events, now=now, filters=filters
        )

    async def hand_over(
        self,
        timer: str,
        *,
        order_id: str,
        department: str,
        role: str | None,
        held_since: datetime,
        now: datetime,
    ) -> bool:
        """The order holds the share's clock from now on, if the clock is still open (a
        stopped share, a closed case, is not handed on)."""
        update: Document = {
            "$set": {
                "order_id": order_id,
                "department": department,
                "role": role,
                "held_since": held_since,
                "updated_at": now,
            },
            "$addToSet": {"orders": order_id},
        }
        return await self._write(
            timer,
            # Still open: a stopped share (a closed case) is not handed on.
            expected={"state": {"$in": list(OPEN_STATES)}},
            update=update,
            events=(),
            now=now,
            filters=(),
        )

    async def _write(
        self,
        timer: str,
        *,
        expected: Document,
        update: Document,
        events: Sequence[Outgoing],
        now: datetime,
        filters: Sequence[Document],
    ) -> bool:
        if events:
            update = with_outbox(update, events, now)
        result = await self.timers.update_one(
            {"_id": timer, **expected}, update, array_filters=list(filters) or None
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

    async def heartbeat(
        self,
        replica: str,
        expires_at: datetime,
        forget_at: datetime,
        *,
        beat_at: datetime,
        holding_since: datetime | None,
    ) -> None:
        await self.leases.update_one(
            {"_id": f"member:{replica}"},
            {
                "$set": {
                    "kind": "member",
                    "expires_at": expires_at,
                    "forget_at": forget_at,
                    "beat_at": beat_at,
                    "holding_since": holding_since,
                }
            },
            upsert=True,
        )

    async def forget(self, replica: str) -> None:
        await self.leases.delete_one({"_id": f"member:{replica}"})

    async def snapshot(self) -> tuple[list[LeaseDocument], list[MemberBeat]]:
        """Every partition lease, and every member's last heartbeat."""
        leases: list[LeaseDocument] = []
        members: list[MemberBeat] = []
        async for document in self.leases.find({}):
            key: str = document["_id"]
            if key.startswith("partition:"):
                leases.append(
                    LeaseDocument(
                        document["partition"], document.get("owner"), document.get("expires_at")
                    )
                )
            elif key.startswith("member:"):
                members.append(
                    MemberBeat(
                        key.removeprefix("member:"),
                        document["expires_at"],
                        beat_at=document.get("beat_at"),
                        holding_since=document.get("holding_since"),
                    )
                )
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
