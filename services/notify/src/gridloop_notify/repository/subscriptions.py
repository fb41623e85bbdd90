"""Subscriptions: stored, listed, found by event, deleted; each one's signing secret."""

from __future__ import annotations

from datetime import datetime

from gridloop_common.mongo import Collection, Document, DuplicateKeyError
from gridloop_notify.alerts import Filters, Subscription


def _document(subscription: Subscription) -> Document:
    address_field = "url" if subscription.endpoint_kind == "webhook" else "address"
    return {
        "_id": subscription.subscription_id,
        "name": subscription.name,
        "events": list(subscription.events),
        "filters": subscription.filters.as_document(),
        "endpoint": {"kind": subscription.endpoint_kind, address_field: subscription.address},
        "secret": subscription.secret,
        "secret_generated": subscription.secret_generated,
        "created_at": subscription.created_at,
        "request_fingerprint": subscription.request_fingerprint,
    }


def _subscription(document: Document) -> Subscription:
    endpoint = document["endpoint"]
    kind = endpoint["kind"]
    return Subscription(
        subscription_id=document["_id"],
        name=document.get("name", ""),
        events=tuple(document["events"]),
        filters=Filters.from_document(document.get("filters")),
        endpoint_kind=kind,
        address=endpoint["url"] if kind == "webhook" else endpoint["address"],
        created_at=document["created_at"],
        secret=document.get("secret") or "",
        secret_generated=bool(document.get("secret_generated")),
        request_fingerprint=document.get("request_fingerprint"),
    )


class SubscriptionRepository:
    def __init__(self, subscriptions: Collection) -> None:
        self.subscriptions = subscriptions

    async def insert(self, subscription: Subscription) -> bool:
        """False when a subscription with this id exists (an Idempotency-Key used before)."""
        try:
            await self.subscriptions.insert_one(_document(subscription))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, subscription_id: str) -> Subscription | None:
        document = await self.subscriptions.find_one({"_id": subscription_id})
        return None if document is None else _subscription(document)

    async def delete(self, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id})
        return result.deleted_count == 1

    async def listing(self, after: datetime | None, limit: int) -> list[Subscription]:
        query: Document = {"created_at": {"$gt": after}} if after else {}
        cursor = self.subscriptions.find(query).sort("created_at", 1).limit(limit)
        return [_subscription(document) async for document in cursor]

    async def for_event(self, event: str, limit: int = 1000) -> list[Subscription]:
        cursor = self.subscriptions.find({"events": event}).limit(limit)
        return [_subscription(document) async for document in cursor]

    async def secret_of(self, subscription_id: str) -> str | None:
        found = await self.subscriptions.find_one({"_id": subscription_id}, {"secret": 1})
        return None if found is None else str(found.get("secret") or "")
