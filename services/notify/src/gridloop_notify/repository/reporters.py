"""Reporters: how to answer each report's reporter, kept until the case closes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gridloop_common.contracts import ReplyAddress
from gridloop_common.mongo import Collection
from gridloop_notify.notices import ReplyRecord

# Linked reports (duplicates of one problem) a case's reporters may number; past it, the
# earliest are told.
MAX_LINKED_REPORTERS = 200


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
