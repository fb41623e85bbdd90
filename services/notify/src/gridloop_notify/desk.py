"""Where every notice enters: stored once under its id, then expanded into delivery batches."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.clock import Clock
from gridloop_common.idempotency import IdempotencyKeyReused
from gridloop_common.mongo import Document
from gridloop_notify.alerts import Filters, hears_notice
from gridloop_notify.expansion import Expander
from gridloop_notify.notices import NoticeDraft, Subscriber
from gridloop_notify.repository import NoticeRepository, SubscriptionRepository

log = structlog.stdlib.get_logger("gridloop.notify")


@dataclass(frozen=True)
class NoticeDesk:
    notices: NoticeRepository
    subscriptions: SubscriptionRepository
    expander: Expander
    clock: Clock
    batch_size: int

    async def submit_now(self, draft: NoticeDraft) -> None:
        """For event handlers: stored and expanded before the event is acked. A redelivered
        event finds its notice stored and finishes an expansion a crash interrupted."""
        created = await self.notices.insert(draft, self.clock.now(), self.batch_size)
        await self.expander.expand(draft.notice_id)
        if created:
            log.info(
                "notice_created",
                notice_id=draft.notice_id,
                kind=draft.kind,
                recipients=draft.recipients,
            )

    async def submit_later(
        self, draft: NoticeDraft, request_fingerprint: str
    ) -> tuple[Document, bool]:
        """For the API: stored now, expanded in the background. Returns the stored notice and
        whether it is a replay of an earlier request with the same key and body."""
        created = await self.notices.insert(
            draft, self.clock.now(), self.batch_size, request_fingerprint
        )
        stored = await self.notices.get(draft.notice_id)
        if stored is None:  # pragma: no cover - deleted between insert and read
            raise RuntimeError(f"notice {draft.notice_id} vanished")
        if not created:
            if stored.get("request_fingerprint") != request_fingerprint:
                raise IdempotencyKeyReused
            return stored, True
        log.info(
            "notice_created",
            notice_id=draft.notice_id,
            kind=draft.kind,
            recipients=draft.recipients,
        )
        self.expander.start(draft.notice_id)
        return stored, False

    async def notice_subscribers(
        self, channels: frozenset[str], townships: frozenset[str] | None
    ) -> list[Subscriber]:
        """E-mail and webhook endpoints subscribed to notices that reach these townships."""
        found = []
        for document in await self.subscriptions.for_event("notice"):
            endpoint = document["endpoint"]
            if endpoint["kind"] not in channels:
                continue
            if hears_notice(Filters.from_document(document.get("filters")), townships):
                found.append(subscriber(document))
        return found


def subscriber(document: Document) -> Subscriber:
    endpoint = document["endpoint"]
    address = endpoint["url"] if endpoint["kind"] == "webhook" else endpoint["address"]
    return Subscriber(document["_id"], endpoint["kind"], address)
