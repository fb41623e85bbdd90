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
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from gridloop_common.clock import Clock
from gridloop_common.messaging.outgoing import Outgoing
from gridloop_common.messaging.publisher import PublishFailed
from gridloop_common.mongo import Collection, Document, IndexSpec
from gridloop_common.tasks import cancel_and_wait

log = structlog.stdlib.get_logger("gridloop.outbox")

PENDING = "outbox_pending"
# Published events are marked sent in writes of up to this many documents, gathered this long.
MARK_SENT_LINGER_SECONDS = 0.02
MARK_SENT_MAX_BATCH = 500
# Documents one sweep looks at, per collection.
SWEEP_BATCH = 200
# Pending this long, a document is logged at every sweep that finds it held (a publish takes
# milliseconds, a lease lasts 30 s): the fault suite once saw orders wait 12 minutes unexplained.
HELD_LONG = timedelta(seconds=60)
# A document whose outbox is empty: nothing pending, no lease, no age.
_CLEARED: Document = {"$set": {PENDING: False}, "$unset": {"outbox_lease": "", "outbox_at": ""}}


class RelayNow(Protocol):
    """What a writer calls after storing events: "publish this document's outbox now".

    A writer that still holds the events it stored may pass them, sparing the relay a read.
    """

    def __call__(
        self, collection: Collection, document_id: Any, outgoings: Sequence[Outgoing] = ()
    ) -> None: ...


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
        self._queue: asyncio.Queue[tuple[str, Any, Sequence[Outgoing]]] = asyncio.Queue()
        # Published events waiting to be marked sent: (collection, document id, event ids).
        self._sent: asyncio.Queue[tuple[str, Any, list[str]]] = asyncio.Queue()
        self._worker_count = workers
        self._tasks: list[asyncio.Task[None]] = []
        # Documents this process was told about and has not finished: its sweep leaves them
        # alone, however long a burst keeps them queued (the grace covers other replicas only).
        self._in_hand: set[tuple[str, Any]] = set()

    def notify(
        self, collection: Collection, document_id: Any, outgoings: Sequence[Outgoing] = ()
    ) -> None:
        """Relay this document's events now: the caller has just stored them (`outgoings`, if
        given, are exactly those events, so the relay need not read them back).

        Before `start` (the broker not reached yet) the request waits in memory; should the
        process die first, the sweep finds the stored events anyway.
        """
        self._in_hand.add((collection.name, document_id))
        self._queue.put_nowait((collection.name, document_id, tuple(outgoings)))

    async def start(self, publisher: OutboxPublisher) -> None:
        self._publisher = publisher
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._worker_count)]
        self._tasks.append(asyncio.create_task(self._mark_sent_forever()))
        self._tasks.append(asyncio.create_task(self._sweep_forever()))

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain what this replica was asked to relay, then stop; the sweep covers the rest."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)
                await asyncio.wait_for(self._sent.join(), timeout)
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            name, document_id, outgoings = await self._queue.get()
            try:
                if outgoings:
                    await self._require_publisher().publish_all(outgoings)
                    self._sent.put_nowait((name, document_id, [o.message_id for o in outgoings]))
                else:
                    await self.relay(self._collections[name], {"_id": document_id})
                    self._in_hand.discard((name, document_id))
            except PublishFailed as error:
                self._in_hand.discard((name, document_id))
                # Unroutable or nacked: it stays pending and the sweep tries again later.
                log.warning("outbox_publish_refused", collection=name, reason=str(error))
            except Exception:
                self._in_hand.discard((name, document_id))
                log.exception("outbox_relay_failed", collection=name)
            finally:
                self._queue.task_done()

    async def _mark_sent_forever(self) -> None:
        """Remove published events from their documents, many documents per write.

        Under load the writes would otherwise cost as much as storing the documents did: what
        was published while the last write ran, or within a short linger after the first, goes
        out in one write. Should a write fail, the events stay pending and the sweep publishes
        them again; consumers drop the repeat.
        """
        while True:
            batch = [await self._sent.get()]
            # Nobody waits for this write (the event is out), so waiting costs nothing and lets
            # more documents share it: clearing one document per command cost the stand-in about
            # twice as much per document as eight per command (bench/database), and without the
            # linger many of intake's writes under load cleared one.
            await asyncio.sleep(MARK_SENT_LINGER_SECONDS)
            while not self._sent.empty() and len(batch) < MARK_SENT_MAX_BATCH:
                batch.append(self._sent.get_nowait())
            try:
                for name in {name for name, _, _ in batch}:
                    done = [(doc_id, ids) for n, doc_id, ids in batch if n == name]
                    await self._mark_sent(self._collections[name], done)
            except Exception:
                log.exception("outbox_mark_sent_failed")
            finally:
                for name, document_id, _ in batch:
                    self._in_hand.discard((name, document_id))
                    self._sent.task_done()

    async def _mark_sent(self, collection: Collection, done: list[tuple[Any, list[str]]]) -> None:
        single = [(doc_id, ids[0]) for doc_id, ids in done if len(ids) == 1]
        careful = [(doc_id, ids) for doc_id, ids in done if len(ids) != 1]
        if len(single) > 1:
            # One write for every document that had exactly one event to send: its outbox holds
            # one entry whose id was sent. Event ids are unique (consumers deduplicate on them),
            # so that entry is this document's own sent event and the outbox may be emptied.
            emptied = await collection.update_many(
                {
                    "_id": {"$in": [doc_id for doc_id, _ in single]},
                    "outbox": {"$size": 1},
                    "outbox.id": {"$in": [event_id for _, event_id in single]},
                },
                {"$set": {"outbox": [], **_CLEARED["$set"]}, "$unset": _CLEARED["$unset"]},
            )
            if emptied.matched_count < len(single):
                # Another write touched some of them: the careful way for each (idempotent).
                careful += [(doc_id, [event_id]) for doc_id, event_id in single]
        else:
            careful += [(doc_id, [event_id]) for doc_id, event_id in single]
        for doc_id, ids in careful:
            await self._remove_sent(collection, doc_id, ids)

    def _require_publisher(self) -> OutboxPublisher:
        if self._publisher is None:
            raise RuntimeError("relay used before start")
        return self._publisher

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            # A sweep takes milliseconds; one still running after a minute is stuck somewhere
            # (a call without a time limit) and says so, while it waits.
            stuck = asyncio.get_running_loop().call_later(
                HELD_LONG.total_seconds(), lambda: log.warning("outbox_sweep_stuck")
            )
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox_sweep_failed")
            finally:
                stuck.cancel()

    async def sweep(self) -> int:
        """Relay every document whose events have waited past the grace period."""
        relayed = 0
        for collection in self._collections.values():
            now = self._clock.now()
            cursor = collection.find(
                {PENDING: True, "outbox_at": {"$lte": now - self._grace}},
                {"_id": 1, "outbox_at": 1},
            ).limit(SWEEP_BATCH)
            async for document in cursor:
                in_hand = (collection.name, document["_id"]) in self._in_hand
                claimed = None if in_hand else await self._claim(collection, document["_id"], now)
                if claimed is None:
                    self._say_if_held_long(collection, document, now, in_hand=in_hand)
                    continue
                try:
                    relayed += await self._publish_and_remove(collection, claimed)
                except PublishFailed as error:
                    await self._release(collection, document["_id"])
                    log.warning(
                        "outbox_publish_refused", collection=collection.name, reason=str(error)
                    )
                except Exception:
                    # The broker went away mid-sweep: give the lease back, or no replica could
                    # relay this document for a whole lease once the broker returns (the fault
                    # suite saw an acceptance reach sla-monitor a minute late this way).
                    await self._release(collection, document["_id"])
                    raise
        return relayed

    def _say_if_held_long(
        self, collection: Collection, document: Document, now: datetime, *, in_hand: bool
    ) -> None:
        """An event waiting far longer than a publish takes is news for whoever reads the logs:
        held by this replica's fast path, or leased by another replica's sweep."""
        stored_at = document.get("outbox_at")
        if stored_at is None or now - stored_at < HELD_LONG:
            return
        log.warning(
            "outbox_event_held",
            collection=collection.name,
            document_id=str(document["_id"]),
            waited_seconds=round((now - stored_at).total_seconds()),
            by="this replica" if in_hand else "another replica's lease",
        )

    async def _release(self, collection: Collection, document_id: Any) -> None:
        with contextlib.suppress(Exception):
            await collection.update_one({"_id": document_id}, {"$unset": {"outbox_lease": ""}})

    async def published_until(self, now: datetime, margin: timedelta) -> datetime:
        """A moment before which every event stored in these collections has been published:
        the oldest still pending, and never later than `now - margin` (a write under way when
        the question is asked may become visible up to `margin` later)."""
        until = now - margin
        for collection in self._collections.values():
            oldest = await collection.find_one(
                {PENDING: True}, {"outbox_at": 1}, sort=[("outbox_at", 1)]
            )
            if oldest is not None and oldest.get("outbox_at") is not None:
                until = min(until, oldest["outbox_at"])
        return until

    async def _claim(
        self, collection: Collection, document_id: Any, now: datetime
    ) -> Document | None:
        """Lease one document for this sweep; its outbox, or None if another replica holds it.

        An update by id and then a read, not find_one_and_update with an `$or` on the lease: the
        stand-in answers both of those by scanning the whole collection. "Not leased until now or
        later" also matches a document that was never leased.
        """
        leased = await collection.update_one(
            {"_id": document_id, PENDING: True, "outbox_lease": {"$not": {"$gte": now}}},
            {"$set": {"outbox_lease": now + self._lease}},
        )
        if leased.modified_count != 1:
            return None
        return await collection.find_one({"_id": document_id}, {"outbox": 1})

    async def relay(self, collection: Collection, selector: Document) -> int:
        document = await collection.find_one({**selector, PENDING: True}, {"outbox": 1})
        if document is None:
            return 0
        return await self._publish_and_remove(collection, document)

    async def _publish_and_remove(self, collection: Collection, document: Document) -> int:
        entries = document.get("outbox") or []
        if entries:
            await self._require_publisher().publish_all(Outgoing.from_document(e) for e in entries)
        await self._remove_sent(collection, document["_id"], [entry["id"] for entry in entries])
        return len(entries)

    async def _remove_sent(self, collection: Collection, document_id: Any, ids: list[str]) -> None:
        if ids:
            # Usually the outbox holds exactly what was sent: one write empties it and clears
            # the flag. Otherwise (another write added events meanwhile, or another replica's
            # sweep got there first) remove only what was sent, then clear the flag if empty.
            emptied = await collection.update_one(
                {"_id": document_id, "outbox": {"$size": len(ids)}, "outbox.id": {"$all": ids}},
                {"$set": {"outbox": [], **_CLEARED["$set"]}, "$unset": _CLEARED["$unset"]},
            )
            if emptied.matched_count:
                return
            await collection.update_one(
                {"_id": document_id}, {"$pull": {"outbox": {"id": {"$in": ids}}}}
            )
        # Clear the flag only if no writer pushed new events in the meantime.
        await collection.update_one({"_id": document_id, "outbox": {"$size": 0}}, _CLEARED)
