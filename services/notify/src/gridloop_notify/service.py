"""Where every notice enters: stored once under its id, then expanded into delivery batches."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.clock import Clock
from gridloop_common.idempotency import IdempotencyKeyReused
from gridloop_notify.alerts import Subscription, hears_notice
from gridloop_notify.expansion import Expander
from gridloop_notify.notices import NoticeDraft, Subscriber
from gridloop_notify.repository import NoticeRecord, NoticeRepository, SubscriptionRepository

log = structlog.stdlib.get_logger("gridloop.notify")


@dataclass(frozen=True)
class NoticeService:
    notices: NoticeRepository
    subscriptions: SubscriptionRepository
    expander: Expander
    clock: Clock
    batch_size: int

    async def submit_now(self, draft: NoticeDraft) -> None:
        """For event handlers: stored and expanded before the event is acked. A redelivered
        event finds its notice stored and finishes an expansion a crash interrupted."""
        lease = self.expander.new_lease()
        created = await self.notices.insert(
            draft, self.clock.now(), self.batch_size, expansion=lease
        )
        if created:
            await self.expander.expand_new(draft, lease, self.batch_size)
        else:
            # A redelivery: the first try's expansion resumes once its lease runs out (at
            # once when it finished, or after NOTIFY_LEASE_SECONDS when its replica died).
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
    ) -> tuple[NoticeRecord, bool]:
        """For the API: stored now, expanded in the background. Returns the stored notice and
        whether it is a replay of an earlier request with the same key and body."""
        created = await self.notices.insert(
            draft, self.clock.now(), self.batch_size, request_fingerprint
        )
        stored = await self.notices.summary(draft.notice_id)
        if stored is None:  # pragma: no cover - deleted between insert and read
            raise RuntimeError(f"notice {draft.notice_id} vanished")
        if not created:
            if stored.request_fingerprint != request_fingerprint:
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
        return [
            subscriber(subscription)
            for subscription in await self.subscriptions.for_event("notice")
            if subscription.endpoint_kind in channels
            and hears_notice(subscription.filters, townships)
        ]

    async def subscribe(self, subscription: Subscription) -> tuple[Subscription, bool]:
        """Store a new subscription; (the stored one, True) when its Idempotency-Key named
        one already, made by the same request. The same key with another request: refused."""
        if await self.subscriptions.insert(subscription):
            log.info("subscription_created", subscription_id=subscription.subscription_id)
            return subscription, False
        stored = await self.subscriptions.get(subscription.subscription_id)
        if stored is None or stored.request_fingerprint != subscription.request_fingerprint:
            raise IdempotencyKeyReused
        return stored, True


def subscriber(subscription: Subscription) -> Subscriber:
    return Subscriber(
        subscription.subscription_id, subscription.endpoint_kind, subscription.address
    )
