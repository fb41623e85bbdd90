"""notify's own database: notices, their delivery batches, reply addresses, subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import BulkWriteError

from gridloop_common.contracts import ReplyAddress
from gridloop_common.mongo import Collection, Document, DuplicateKeyError, IndexSpec
from gridloop_notify.delivery import (
    DELIVERED,
    FAILED,
    PENDING,
    RECORD_ONLY,
    SKIPPED,
    BatchDraft,
    Counts,
    Entry,
    Recipient,
    Segment,
    count,
)
from gridloop_notify.delivery import (
    batch_id as batch_id_of,
)
from gridloop_notify.notices import NoticeDraft, ReplyRecord

NOTICES = "notices"
BATCHES = "batches"
REPORTERS = "reporters"
SUBSCRIPTIONS = "subscriptions"

EXPANDING = "expanding"
SENDING = "sending"
COMPLETED = "completed"

_DUPLICATE_KEY = 11000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Every query a worker repeats is narrow by construction (an equality prefix and a bounded range
# on an index): the MongoDB stand-in decodes every candidate an index yields before `limit`.
INDEXES = [
    IndexSpec(NOTICES, [("status", 1), ("updated_at", 1)]),
    IndexSpec(NOTICES, [("case_id", 1), ("created_at", 1)]),
    # The claim query: due batches of one lane, oldest first.
    IndexSpec(BATCHES, [("lane", 1), ("due_at", 1)]),
    # Pages of a notice's recipients, and the expansion's "is anything still open".
    IndexSpec(BATCHES, [("notice_id", 1), ("first_seq", 1)]),
    IndexSpec(BATCHES, [("notice_id", 1), ("open", 1)]),
    IndexSpec(REPORTERS, [("linked_to", 1)]),
    IndexSpec(SUBSCRIPTIONS, [("events", 1)]),
    IndexSpec(SUBSCRIPTIONS, [("created_at", 1)]),
]

# Linked reports (duplicates of one problem) a case's reporters may number; past it, the
# earliest are told.
MAX_LINKED_REPORTERS = 200


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", []))


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


def _zero_totals(channels: Iterable[str]) -> dict[str, dict[str, int]]:
    return {channel: {DELIVERED: 0, FAILED: 0, SKIPPED: 0} for channel in channels}


class NoticeRepository:
    def __init__(self, notices: Collection) -> None:
        self.notices = notices

    async def insert(
        self,
        draft: NoticeDraft,
        now: datetime,
        batch_size: int,
        request_fingerprint: str | None = None,
    ) -> bool:
        """Store a new notice; False when one with this id exists (a replay or a redelivery)."""
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
        try:
            await self.notices.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, notice_id: str) -> Document | None:
        return await self.notices.find_one({"_id": notice_id}, {"segments": 0})

    async def plan(self, notice_id: str) -> Document | None:
        return await self.notices.find_one({"_id": notice_id})

    async def content(self, notice_id: str) -> Document | None:
        return await self.notices.find_one(
            {"_id": notice_id}, {"kind": 1, "title": 1, "text": 1, "data": 1}
        )

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
    ) -> Document | None:
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
        return await self.get(notice_id)

    async def add_counts(
        self, notice_id: str, channel: str, delta: Mapping[str, int], now: datetime
    ) -> None:
        increments: dict[str, int] = {}
        for status in (DELIVERED, FAILED, SKIPPED):
            if delta.get(status):
                increments[f"totals.{status}"] = delta[status]
                increments[f"by_channel.{channel}.{status}"] = delta[status]
        if increments:
            await self.notices.update_one(
                {"_id": notice_id}, {"$inc": increments, "$set": {"updated_at": now}}
            )

    async def batch_closed(self, notice_id: str, now: datetime) -> Document | None:
        await self.notices.update_one(
            {"_id": notice_id}, {"$inc": {"batches_closed": 1}, "$set": {"updated_at": now}}
        )
        return await self.notices.find_one(
            {"_id": notice_id},
            {"status": 1, "batches_closed": 1, "batches_total": 1, "batches_to_close": 1},
        )

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

    async def for_case(self, case_id: str, limit: int = 200) -> list[Document]:
        cursor = (
            self.notices.find({"case_id": case_id}, {"segments": 0, "data": 0})
            .sort("created_at", 1)
            .limit(limit)
        )
        return [document async for document in cursor]


# --- batches ---


def batch_document(draft: BatchDraft, now: datetime) -> Document:
    counts = count(draft.entries)
    document: Document = {
        "_id": draft.batch_id,
        "notice_id": draft.notice_id,
        "k": draft.k,
        "channel": draft.channel,
        "lane": draft.lane,
        "first_seq": draft.first_seq,
        "size": len(draft.entries),
        "entries": list(draft.entries),
        "counts": counts.as_dict(),
        "open": counts.pending > 0 and draft.channel != RECORD_ONLY,
        "created_at": now,
    }
    if document["open"]:
        document["due_at"] = now
    return document


class BatchRepository:
    def __init__(self, batches: Collection) -> None:
        self.batches = batches

    async def insert(self, drafts: Sequence[BatchDraft], now: datetime) -> int:
        """Store batches; ones already stored (an expansion run again) are left as they are."""
        if not drafts:
            return 0
        try:
            result = await self.batches.insert_many(
                [batch_document(d, now) for d in drafts], ordered=False
            )
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            return int(error.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def due(self, lane: int, now: datetime, limit: int) -> list[str]:
        # The lower bound changes no result (every due_at is later) but keeps the scan off the
        # closed batches, whose missing due_at the stand-in indexes as null, below any date, and
        # decodes whole: 900 closed batches in a lane made one poll 217 ms instead of 2 ms.
        cursor = self.batches.find(
            {"lane": lane, "due_at": {"$gte": _EPOCH, "$lte": now}}, {"_id": 1}
        )
        return [d["_id"] async for d in cursor.limit(limit)]

    async def claim(
        self, batch_id: str, token: str, now: datetime, until: datetime
    ) -> Document | None:
        """Take a due batch (or one whose worker's lease ran out) for this worker alone."""
        result = await self.batches.update_one(
            {"_id": batch_id, "due_at": {"$lte": now}},
            {"$set": {"owner": token, "due_at": until}},
        )
        if result.modified_count != 1:
            return None
        return await self.batches.find_one({"_id": batch_id, "owner": token})

    async def flush(
        self, batch_id: str, token: str, entries: Sequence[Entry], counts: Counts, until: datetime
    ) -> bool:
        """Store outcomes so far and renew the lease; False when another worker took over."""
        result = await self.batches.update_one(
            {"_id": batch_id, "owner": token},
            {"$set": {"entries": list(entries), "counts": counts.as_dict(), "due_at": until}},
        )
        return result.matched_count == 1

    async def release(
        self,
        batch_id: str,
        token: str,
        entries: Sequence[Entry],
        counts: Counts,
        due_at: datetime | None,
    ) -> bool:
        """Store outcomes and give the batch back: due again at its next retry, or closed."""
        update: Document = {
            "$set": {
                "entries": list(entries),
                "counts": counts.as_dict(),
                "open": due_at is not None,
            },
            "$unset": {"owner": ""},
        }
        if due_at is None:
            update["$unset"]["due_at"] = ""
        else:
            update["$set"]["due_at"] = due_at
        result = await self.batches.update_one({"_id": batch_id, "owner": token}, update)
        return result.matched_count == 1

    async def page(self, notice_id: str, first: int, last: int, batch_size: int) -> list[Document]:
        """Batches holding seqs first..last: a narrow range on (notice_id, first_seq)."""
        cursor = self.batches.find(
            {"notice_id": notice_id, "first_seq": {"$gt": first - batch_size, "$lte": last}},
            {"owner": 0},
        ).sort("first_seq", 1)
        return [document async for document in cursor]

    async def open_but_settled(self, notice_id: str, limit: int = 100) -> list[str]:
        """Open batches whose stored deliveries are all settled: sent, yet never given back."""
        cursor = self.batches.find({"notice_id": notice_id, "open": True}, {"counts": 1}).limit(
            limit
        )
        return [d["_id"] async for d in cursor if (d.get("counts") or {}).get(PENDING, 1) == 0]

    async def close_settled(self, batch_id: str) -> bool:
        """Close a batch with nothing pending, whoever holds it: its holder's next flush or
        release finds it gone and stops. True for the one caller that closed it."""
        result = await self.batches.update_one(
            {"_id": batch_id, "open": True, f"counts.{PENDING}": 0},
            {"$set": {"open": False}, "$unset": {"owner": "", "due_at": ""}},
        )
        return result.modified_count == 1

    async def any_open(self, notice_id: str) -> bool:
        found = await self.batches.find_one({"notice_id": notice_id, "open": True}, {"_id": 1})
        return found is not None

    async def open_to(self, recipient_id: str) -> bool:
        """Whether a batch still being delivered lists this recipient (a scan: see erasure)."""
        found = await self.batches.find_one(
            {"open": True, "entries.recipient_id": recipient_id}, {"_id": 1}
        )
        return found is not None

    async def tally(self, notice_id: str, batches_total: int) -> AsyncIterator[Document]:
        """Every batch's channel and counts, fifty batches (primary-key lookups) at a time."""
        for start in range(0, batches_total, 50):
            ids = [batch_id_of(notice_id, k) for k in range(start, min(start + 50, batches_total))]
            cursor = self.batches.find({"_id": {"$in": ids}}, {"channel": 1, "counts": 1})
            async for document in cursor:
                yield document


# --- reporters ---


class ReporterRepository:
    """report id → how to answer its reporter; the address is kept until the case closes,
    the record after it (without the address), so late news is known to be late."""

    def __init__(self, reporters: Collection) -> None:
        self.reporters = reporters

    async def remember(
        self,
        report_id: str,
        reporter_id: str | None,
        reply_to: ReplyAddress | None,
        linked_to: str | None,
        now: datetime,
    ) -> None:
        await self.reporters.update_one(
            {"_id": report_id},
            {
                "$setOnInsert": {
                    "reporter_id": reporter_id,
                    "reply_channel": reply_to.channel if reply_to else None,
                    "reply_address": reply_to.address if reply_to else None,
                    "linked_to": linked_to,
                    "received_at": now,
                }
            },
            upsert=True,
        )

    async def for_report(self, report_id: str) -> list[ReplyRecord] | None:
        """The report's own reporter and those of reports linked to it; None if unknown."""
        own = await self.reporters.find_one({"_id": report_id})
        if own is None:
            return None
        cursor = self.reporters.find({"linked_to": report_id}).limit(MAX_LINKED_REPORTERS)
        return [_record(own)] + [_record(d) async for d in cursor]

    async def forget(self, report_ids: Iterable[str]) -> None:
        """Drop the reply addresses of a closed case's reports; keep that they closed."""
        ids = sorted(set(report_ids))
        if ids:
            await self.reporters.update_many(
                {"_id": {"$in": ids}},
                {"$set": {"closed": True}, "$unset": {"reply_channel": "", "reply_address": ""}},
            )

    async def erase(self, reporter_id: str) -> int:
        """Drop the reply addresses of every report of the reporter, and remember they were
        erased: their later news is recorded, not sent. How many reports were theirs."""
        result = await self.reporters.update_many(
            {"reporter_id": reporter_id},
            {"$set": {"erased": True}, "$unset": {"reply_channel": "", "reply_address": ""}},
        )
        return int(result.matched_count)


def _record(document: Mapping[str, Any]) -> ReplyRecord:
    channel = document.get("reply_channel")
    reply = (
        ReplyAddress(channel=channel, address=document.get("reply_address")) if channel else None
    )
    return ReplyRecord(
        document["_id"],
        document.get("reporter_id"),
        reply,
        closed=bool(document.get("closed")),
        erased=bool(document.get("erased")),
    )


# --- subscriptions ---


class SubscriptionRepository:
    def __init__(self, subscriptions: Collection) -> None:
        self.subscriptions = subscriptions

    async def insert(self, document: Document) -> bool:
        try:
            await self.subscriptions.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, subscription_id: str) -> Document | None:
        return await self.subscriptions.find_one({"_id": subscription_id})

    async def delete(self, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id})
        return result.deleted_count == 1

    async def listing(self, after: datetime | None, limit: int) -> list[Document]:
        query: Document = {"created_at": {"$gt": after}} if after else {}
        cursor = self.subscriptions.find(query).sort("created_at", 1).limit(limit)
        return [document async for document in cursor]

    async def for_event(self, event: str, limit: int = 1000) -> list[Document]:
        cursor = self.subscriptions.find({"events": event}).limit(limit)
        return [document async for document in cursor]

    async def secret_of(self, subscription_id: str) -> str | None:
        found = await self.subscriptions.find_one({"_id": subscription_id}, {"secret": 1})
        return None if found is None else str(found.get("secret") or "")


__all__ = [
    "BATCHES",
    "COMPLETED",
    "EXPANDING",
    "INDEXES",
    "NOTICES",
    "PENDING",
    "REPORTERS",
    "SENDING",
    "SUBSCRIPTIONS",
    "BatchRepository",
    "NoticeRepository",
    "ReporterRepository",
    "SubscriptionRepository",
]
