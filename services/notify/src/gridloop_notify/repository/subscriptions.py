"""Subscriptions: stored, listed, found by event, deleted; each one's signing secret."""

from __future__ import annotations

from datetime import datetime

from gridloop_common.mongo import Collection, Document, DuplicateKeyError

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
