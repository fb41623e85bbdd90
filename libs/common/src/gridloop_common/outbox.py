"""The embedded outbox: events are stored in the aggregate's own document, then relayed.

A state change and the messages it causes are written in one single-document update (no
transactions needed). The relay publishes pending entries with confirms and removes them. The
writing replica relays at once (`notify`); a sweep picks up what a crashed replica left, after a
grace period, claiming each document with a short lease so replicas do not all resend it. A crash
between publish and removal resends the same bytes and message id: consumers drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from gridloop_common.clock import Clock
from gridloop_common.messaging.outgoing import Outgoing
from gridloop_common.messaging.publisher import PublishFailed
from gridloop_common.mongo import Collection, Document, IndexSpec

log = structlog.stdlib.get_logger("gridloop.outbox")

PENDING = "outbox_pending"

# What a writer calls after storing events: "publish this document's outbox now".
RelayNow = Callable[[Collection, Any], None]


def outbox_fields(outgoings: Sequence[Outgoing], now: datetime) -> Document:
    """Fields for a new document that carries its first events."""
    return {"outbox": [o.to_document() for o in outgoings], PENDING: True, "outbox_at": now}


def with_outbox(update: Document, outgoings: Sequence[Outgoing], now: datetime) -> Document:
    """Add `$push` of the events to an update document that changes the aggregate's state."""
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})["outbox"] = {"$each": [o.to_document() for o in outgoings]}
    merged.setdefault("$set", {}).update({PENDING: True, "outbox_at": now})
    return merged


def outbox_indexes(collection: str) -> list[IndexSpec]:
    return [IndexSpec(collection, [(PENDING, 1), ("outbox_at", 1)])]


class OutboxPublisher(Protocol):
    async def publish_all(self, outgoings: Iterable[Outgoing]) -> None: ...


class OutboxRelay:
    def __init__(
        self,
        collections: Sequence[Collection],
        clock: Clock,
        *,
        sweep_interval_seconds: float = 1.0,
        grace_seconds: float = 2.0,
        lease_seconds: float = 30.0,
        workers: int = 16,
    ) -> None:
        self._collections = {c.name: c for c in collections}
        self._publisher: OutboxPublisher | None = None
        self._clock = clock
        self._sweep_interval = sweep_interval_seconds
        self._grace = timedelta(seconds=grace_seconds)
        self._lease = timedelta(seconds=lease_seconds)
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._worker_count = workers
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, collection: Collection, document_id: Any) -> None:
        """Relay this document's events now: the caller has just stored them.

        Before `start` (the broker not reached yet) the request waits in memory; should the
        process die first, the sweep finds the stored events anyway.
        """
        self._queue.put_nowait((collection.name, document_id))

    async def start(self, publisher: OutboxPublisher) -> None:
        self._publisher = publisher
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._worker_count)]
        self._tasks.append(asyncio.create_task(self._sweep_forever()))

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain what this replica was asked to relay, then stop; the sweep covers the rest."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            name, document_id = await self._queue.get()
            try:
                await self.relay(self._collections[name], {"_id": document_id})
            except PublishFailed as error:
                # Unroutable or nacked: it stays pending and the sweep tries again later.
                log.warning("outbox_publish_refused", collection=name, reason=str(error))
            except Exception:
                log.exception("outbox_relay_failed", collection=name)
            finally:
                self._queue.task_done()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox_sweep_failed")

    async def sweep(self) -> int:
        """Relay every document whose events have waited past the grace period."""
        relayed = 0
        for collection in self._collections.values():
            now = self._clock.now()
            cursor = collection.find(
                {PENDING: True, "outbox_at": {"$lte": now - self._grace}}, {"_id": 1}
            ).limit(200)
            async for document in cursor:
                claimed = await collection.find_one_and_update(
                    {
                        "_id": document["_id"],
                        PENDING: True,
                        "$or": [
                            {"outbox_lease": {"$exists": False}},
                            {"outbox_lease": {"$lt": now}},
                        ],
                    },
                    {"$set": {"outbox_lease": now + self._lease}},
                    projection={"outbox": 1},
                )
                if claimed is None:
                    continue
                try:
                    relayed += await self._publish_and_remove(collection, claimed)
                except PublishFailed as error:
                    log.warning(
                        "outbox_publish_refused", collection=collection.name, reason=str(error)
                    )
        return relayed

    async def relay(self, collection: Collection, selector: Document) -> int:
        document = await collection.find_one({**selector, PENDING: True}, {"outbox": 1})
        if document is None:
            return 0
        return await self._publish_and_remove(collection, document)

    async def _publish_and_remove(self, collection: Collection, document: Document) -> int:
        entries = document.get("outbox") or []
        if entries:
            if self._publisher is None:
                raise RuntimeError("relay used before start")
            await self._publisher.publish_all(Outgoing.from_document(e) for e in entries)
            sent_ids = [entry["id"] for entry in entries]
            await collection.update_one(
                {"_id": document["_id"]}, {"$pull": {"outbox": {"id": {"$in": sent_ids}}}}
            )
        # Clear the flag only if no writer pushed new events in the meantime.
        await collection.update_one(
            {"_id": document["_id"], "outbox": {"$size": 0}},
            {"$set": {PENDING: False}, "$unset": {"outbox_lease": "", "outbox_at": ""}},
        )
        return len(entries)
