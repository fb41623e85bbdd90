"""Notices: each notice's plan, its expansion lease, running totals and completion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridloop_common.mongo import Collection, Document, DuplicateKeyError
from gridloop_notify.audience import Audience
from gridloop_notify.delivery import DELIVERED, FAILED, SKIPPED, Recipient, Segment
from gridloop_notify.notices import NoticeDraft

EXPANDING = "expanding"
SENDING = "sending"
COMPLETED = "completed"


# --- notices ---


def segment_document(segment: Segment, keep_recipients: bool) -> Document:
    document: Document = {
        "channel": segment.channel,
        "source": segment.source,
        "count": segment.count,
    }
    if keep_recipients and segment.recipients:
        document["recipients"] = [
            {
                "recipient_id": r.recipient_id,
                "address": r.address,
                "secret_ref": r.secret_ref,
                "skip_reason": r.skip_reason,
            }
            for r in segment.recipients
        ]
    return document


def segment_from_document(document: Mapping[str, Any]) -> Segment:
    return Segment(
        channel=document["channel"],
        source=document["source"],
        count=int(document["count"]),
        recipients=tuple(
            Recipient(
                recipient_id=r["recipient_id"],
                address=r["address"],
                secret_ref=r.get("secret_ref"),
                skip_reason=r.get("skip_reason"),
            )
            for r in document.get("recipients") or ()
        ),
    )


def _count_increments(channel: str, delta: Mapping[str, int]) -> dict[str, int]:
    """The running totals' increments for new outcomes of one channel's batch."""
    increments: dict[str, int] = {}
    for status in (DELIVERED, FAILED, SKIPPED):
        if delta.get(status):
            increments[f"totals.{status}"] = delta[status]
            increments[f"by_channel.{channel}.{status}"] = delta[status]
    return increments


def _zero_totals(channels: Iterable[str]) -> dict[str, dict[str, int]]:
    return {channel: {DELIVERED: 0, FAILED: 0, SKIPPED: 0} for channel in channels}


@dataclass(frozen=True)
class NoticeContent:
    """What every delivery of a notice says (what a batch worker sends)."""

    kind: str
    title: str
    text: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class NoticeProgress:
    """How far a notice's batches are, for deciding whether it is complete."""

    notice_id: str
    status: str
    batches_total: int
    # Batches that had something to send when cut; None until the expansion has finished.
    batches_to_close: int | None
    batches_closed: int

    @property
    def sending(self) -> bool:
        return self.status == SENDING

    @property
    def every_batch_closed(self) -> bool:
        """Sending, and every batch with something to send given back closed (a count a crash
        may leave short: the quiet sweep recounts)."""
        return (
            self.sending
            and self.batches_to_close is not None
            and self.batches_closed >= self.batches_to_close
        )


@dataclass(frozen=True)
class NoticePlan:
    """What an expansion cuts into batches, and how far an earlier try of it came."""

    recipients: int
    segments: tuple[Segment, ...]
    audience: Audience | None
    batch_size: int
    expanded_batches: int

    @classmethod
    def of_draft(cls, draft: NoticeDraft, batch_size: int) -> NoticePlan:
        """The plan a notice is stored with, before any of it is expanded."""
        return cls(draft.recipients, draft.segments, draft.audience, batch_size, 0)


@dataclass(frozen=True)
class ExpansionLease:
    """Who expands a notice, and until when: taken with the insert by a handler that expands
    the notice it stores at once, and by a claim otherwise."""

    token: str
    until: datetime


_PROGRESS_FIELDS = {"status": 1, "batches_closed": 1, "batches_total": 1, "batches_to_close": 1}


def _progress(document: Mapping[str, Any]) -> NoticeProgress:
    to_close = document.get("batches_to_close")
    return NoticeProgress(
        notice_id=document["_id"],
        status=document["status"],
        batches_total=int(document.get("batches_total", 0)),
        batches_to_close=None if to_close is None else int(to_close),
        batches_closed=int(document.get("batches_closed", 0)),
    )


@dataclass(frozen=True)
class NoticeRecord:
    """A notice as the API shows it: what it says, to whom, and how far its delivery is."""

    notice_id: str
    kind: str
    status: str
    title: str
    text: str
    audience: Mapping[str, Any] | None
    channels: tuple[str, ...]
    case_id: str | None
    created_at: datetime
    completed_at: datetime | None
    recipients: int
    recipients_by_channel: Mapping[str, int]
    # Settled deliveries by status, for the whole notice and per channel.
    totals: Mapping[str, int]
    by_channel: Mapping[str, Mapping[str, int]]
    batch_size: int
    request_fingerprint: str | None


def _summary(document: Document) -> NoticeRecord:
    return NoticeRecord(
        notice_id=document["_id"],
        kind=document["kind"],
        status=document["status"],
        title=document["title"],
        text=document["text"],
        audience=document.get("audience"),
        channels=tuple(document.get("channels") or ()),
        case_id=document.get("case_id"),
        created_at=document["created_at"],
        completed_at=document.get("completed_at"),
        recipients=int(document["recipients"]),
        recipients_by_channel=dict(document.get("recipients_by_channel") or {}),
        totals=dict(document.get("totals") or {}),
        by_channel=dict(document.get("by_channel") or {}),
        batch_size=int(document.get("batch_size", 100)),
        request_fingerprint=document.get("request_fingerprint"),
    )


class NoticeRepository:
    def __init__(self, notices: Collection) -> None:
        self.notices = notices

    async def insert(
        self,
        draft: NoticeDraft,
        now: datetime,
        batch_size: int,
        request_fingerprint: str | None = None,
        expansion: ExpansionLease | None = None,
    ) -> bool:
        """Store a new notice; False when one with this id exists (a replay or a redelivery).
        With `expansion` the notice is stored leased to its expander: one command fewer than a
        claim after the insert."""
        channels = sorted({segment.channel for segment in draft.segments})
        recipients_by_channel: dict[str, int] = {}
        for segment in draft.segments:
            recipients_by_channel[segment.channel] = (
                recipients_by_channel.get(segment.channel, 0) + segment.count
            )
        document: Document = {
            "_id": draft.notice_id,
            "kind": draft.kind,
            "title": draft.title,
            "text": draft.text,
            "data": dict(draft.data),
            "audience": draft.audience.as_document() if draft.audience else None,
            "channels": list(draft.channels) or channels,
            "case_id": draft.case_id,
            "event_id": draft.event_id,
            "status": EXPANDING,
            "recipients": draft.recipients,
            "recipients_by_channel": recipients_by_channel,
            "segments": [segment_document(s, keep_recipients=True) for s in draft.segments],
            "totals": {DELIVERED: 0, FAILED: 0, SKIPPED: 0},
            "by_channel": _zero_totals(channels),
            "batch_size": batch_size,
            "expanded_batches": 0,
            "batches_closed": 0,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
            "request_fingerprint": request_fingerprint,
        }
        if expansion is not None:
            document["expand_owner"] = expansion.token
            document["expand_until"] = expansion.until
        try:
            await self.notices.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, notice_id: str) -> Document | None:
        return await self.notices.find_one({"_id": notice_id}, {"segments": 0})

    async def summary(self, notice_id: str) -> NoticeRecord | None:
        document = await self.get(notice_id)
        return None if document is None else _summary(document)

    async def progress(self, notice_id: str) -> NoticeProgress | None:
        found = await self.notices.find_one({"_id": notice_id}, _PROGRESS_FIELDS)
        return None if found is None else _progress(found)

    async def plan(self, notice_id: str) -> NoticePlan | None:
        found = await self.notices.find_one({"_id": notice_id})
        if found is None:
            return None
        return NoticePlan(
            recipients=int(found["recipients"]),
            segments=tuple(segment_from_document(d) for d in found.get("segments") or []),
            audience=Audience.from_document(found["audience"]) if found.get("audience") else None,
            batch_size=int(found["batch_size"]),
            expanded_batches=int(found.get("expanded_batches", 0)),
        )

    async def content(self, notice_id: str) -> NoticeContent | None:
        found = await self.notices.find_one(
            {"_id": notice_id}, {"kind": 1, "title": 1, "text": 1, "data": 1}
        )
        if found is None:
            return None
        return NoticeContent(found["kind"], found["title"], found["text"], found.get("data") or {})

    async def claim_expansion(
        self, notice_id: str, token: str, now: datetime, until: datetime
    ) -> bool:
        # "Not leased until now or later" also matches a notice never leased. No `$or`: the
        # stand-in answers a filter with a top-level operator by scanning (and decoding) every
        # notice under the collection's write lock, once per notice: it was notify's bottleneck.
        result = await self.notices.update_one(
            {"_id": notice_id, "status": EXPANDING, "expand_until": {"$not": {"$gte": now}}},
            {"$set": {"expand_owner": token, "expand_until": until}},
        )
        return result.modified_count == 1

    async def record_expanded(
        self, notice_id: str, token: str, expanded_batches: int, until: datetime
    ) -> bool:
        """Checkpoint: the first `expanded_batches` batches are stored; renews the lease."""
        result = await self.notices.update_one(
            {"_id": notice_id, "expand_owner": token},
            {"$set": {"expanded_batches": expanded_batches, "expand_until": until}},
        )
        return result.matched_count == 1

    async def release_expansion(self, notice_id: str, token: str) -> None:
        await self.notices.update_one(
            {"_id": notice_id, "expand_owner": token},
            {"$unset": {"expand_owner": "", "expand_until": ""}},
        )

    async def finish_expansion(
        self,
        notice_id: str,
        token: str,
        *,
        batches_total: int,
        batches_to_close: int,
        skipped: Mapping[str, int],
        segments: Sequence[Segment],
        now: datetime,
    ) -> NoticeProgress | None:
        """Every batch is stored: from now on closed batches count towards completion. Entries
        settled at expansion (skipped) are counted here, once; the listed recipients' addresses
        leave the plan, the batches carry them now."""
        increments = {f"by_channel.{channel}.{SKIPPED}": n for channel, n in skipped.items()}
        if skipped:
            increments[f"totals.{SKIPPED}"] = sum(skipped.values())
        update: Document = {
            "$set": {
                "status": SENDING,
                "batches_total": batches_total,
                "batches_to_close": batches_to_close,
                "expanded_batches": batches_total,
                "segments": [segment_document(s, keep_recipients=False) for s in segments],
                "updated_at": now,
            },
            "$unset": {"expand_owner": "", "expand_until": ""},
        }
        if increments:
            update["$inc"] = increments
        result = await self.notices.update_one(
            {"_id": notice_id, "expand_owner": token, "status": EXPANDING}, update
        )
        if result.modified_count != 1:
            return None
        return await self.progress(notice_id)

    async def add_counts(
        self, notice_id: str, channel: str, delta: Mapping[str, int], now: datetime
    ) -> None:
        increments = _count_increments(channel, delta)
        if increments:
            await self.notices.update_one(
                {"_id": notice_id}, {"$inc": increments, "$set": {"updated_at": now}}
            )

    async def batch_closed(
        self,
        notice_id: str,
        now: datetime,
        channel: str = "",
        delta: Mapping[str, int] | None = None,
    ) -> NoticeProgress | None:
        """A batch is closed, with its last outcomes (`delta` of `channel`) counted in the same
        update; then the progress read (not findAndModify: the stand-in answers that by a
        scan of the collection)."""
        increments = {**_count_increments(channel, delta or {}), "batches_closed": 1}
        await self.notices.update_one(
            {"_id": notice_id}, {"$inc": increments, "$set": {"updated_at": now}}
        )
        return await self.progress(notice_id)

    async def complete(
        self,
        notice_id: str,
        totals: Mapping[str, int],
        by_channel: Mapping[str, Mapping[str, int]],
        now: datetime,
    ) -> bool:
        """Exact totals replace the running counters, which a crash can leave one flush short."""
        result = await self.notices.update_one(
            {"_id": notice_id, "status": SENDING},
            {
                "$set": {
                    "status": COMPLETED,
                    "totals": dict(totals),
                    "by_channel": {c: dict(t) for c, t in by_channel.items()},
                    "completed_at": now,
                    "updated_at": now,
                }
            },
        )
        return result.modified_count == 1

    async def unclaimed_expansions(self, now: datetime, limit: int = 20) -> list[str]:
        cursor = self.notices.find(
            {"status": EXPANDING, "updated_at": {"$lte": now}},
            {"_id": 1, "expand_until": 1},
        ).limit(limit)
        return [
            d["_id"]
            async for d in cursor
            if d.get("expand_until") is None or d["expand_until"] < now
        ]

    async def quiet_since(self, status: str, before: datetime, limit: int = 20) -> list[str]:
        """Notices in `status` with no progress since `before`: a crash may have stranded them."""
        cursor = self.notices.find({"status": status, "updated_at": {"$lt": before}}, {"_id": 1})
        return [d["_id"] async for d in cursor.limit(limit)]

    async def touch(self, notice_id: str, now: datetime) -> None:
        await self.notices.update_one({"_id": notice_id}, {"$set": {"updated_at": now}})

    async def expanding_to(self, recipient_id: str) -> bool:
        """Whether a notice not yet expanded still lists this recipient (expansion drops the
        listed recipients once their batches are stored)."""
        found = await self.notices.find_one(
            {"segments.recipients.recipient_id": recipient_id}, {"_id": 1}
        )
        return found is not None

    async def for_case(self, case_id: str, limit: int = 200) -> list[NoticeRecord]:
        cursor = (
            self.notices.find({"case_id": case_id}, {"segments": 0, "data": 0})
            .sort("created_at", 1)
            .limit(limit)
        )
        return [_summary(document) async for document in cursor]
