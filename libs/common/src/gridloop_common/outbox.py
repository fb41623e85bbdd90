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
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from gridloop_common.clock import Clock
from gridloop_common.messaging.outgoing import Outgoing
from gridloop_common.messaging.publisher import PublishFailed
from gridloop_common.mongo import Collection, Document, IndexSpec, in_chunks
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
LEASE = "outbox_lease"
# Which sweep holds the lease: the one that wrote its own random id here with it.
LEASE_HOLDER = "outbox_lease_holder"
_CLEARED: Document = {
    "$set": {PENDING: False},
    "$unset": {LEASE: "", LEASE_HOLDER: "", "outbox_at": ""},
}


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
        """Remove the sent events from their documents, then clear the documents left empty: two
        writes for any number of documents. Event ids are unique (consumers deduplicate on them),
        so pulling every sent id from every one of these documents removes from each exactly
        what it sent; an event a writer pushed meanwhile stays, and so does its document's flag.
        (One conditional write per document cost a sweep of 150 documents 225 writes.) A hundred
        documents per pair of writes: longer `$in` lists cost the stand-in their square."""
        for chunk in in_chunks(done):
            document_ids = [document_id for document_id, _ in chunk]
            sent_ids = [event_id for _, event_ids in chunk for event_id in event_ids]
            if sent_ids:
                await collection.update_many(
                    {"_id": {"$in": document_ids}},
                    {"$pull": {"outbox": {"id": {"$in": sent_ids}}}},
                )
            await collection.update_many(
                {"_id": {"$in": document_ids}, "outbox": {"$size": 0}}, _CLEARED
            )

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
        """Relay every document whose events have waited past the grace period.

        A batch at a time, in a handful of commands whatever its size: one write leases every
        document found (with this sweep's token), one read returns those it now holds, their
        events are published with every confirm in flight at once, and the sent ones are
        cleared together. One document after another, a sweep cost five commands and a confirm
        per document: after a restart under load the fault suite saw it fall minutes behind
        while the stand-in was saturated (docs/reliability.md).
        """
        relayed = 0
        for collection in self._collections.values():
            now = self._clock.now()
            cursor = collection.find(
                {PENDING: True, "outbox_at": {"$lte": now - self._grace}},
                {"_id": 1, "outbox_at": 1},
            ).limit(SWEEP_BATCH)
            found = [document async for document in cursor]
            candidates = []
            for document in found:
                if (collection.name, document["_id"]) in self._in_hand:
                    self._say_if_held_long(collection, document, now, in_hand=True)
                else:
                    candidates.append(document)
            held = await self._claim_all(collection, [d["_id"] for d in candidates], now)
            held_ids = {document["_id"] for document in held}
            for document in candidates:
                if document["_id"] not in held_ids:
                    self._say_if_held_long(collection, document, now, in_hand=False)
            relayed += await self._publish_held(collection, held)
        return relayed

    async def _claim_all(
        self, collection: Collection, document_ids: list[Any], now: datetime
    ) -> list[Document]:
        """Lease these documents for this sweep; their outboxes, for those it now holds (another
        replica's unexpired lease keeps a document from it). "Not leased until now or later"
        also matches a document that was never leased."""
        token = uuid.uuid4().hex
        held: list[Document] = []
        for chunk in in_chunks(document_ids):
            await collection.update_many(
                {"_id": {"$in": chunk}, PENDING: True, LEASE: {"$not": {"$gte": now}}},
                {"$set": {LEASE: now + self._lease, LEASE_HOLDER: token}},
            )
            cursor = collection.find({"_id": {"$in": chunk}, LEASE_HOLDER: token}, {"outbox": 1})
            held += [document async for document in cursor]
        return held

    async def _publish_held(self, collection: Collection, held: list[Document]) -> int:
        """Publish the held documents' events, every confirm in flight; clear what was sent,
        give back the lease of what was not. A broker gone mid-sweep is raised once the leases
        are back, or no replica could relay those documents for a whole lease once it returns
        (the fault suite saw an acceptance reach sla-monitor a minute late that way)."""
        results = await asyncio.gather(
            *(self._publish_document(document) for document in held), return_exceptions=True
        )
        sent: list[tuple[Any, list[str]]] = []
        unsent: list[Any] = []
        error: BaseException | None = None
        for document, result in zip(held, results, strict=True):
            if isinstance(result, BaseException):
                unsent.append(document["_id"])
                if isinstance(result, PublishFailed):
                    log.warning(
                        "outbox_publish_refused", collection=collection.name, reason=str(result)
                    )
                elif error is None:
                    error = result
            else:
                sent.append(
                    (document["_id"], [entry["id"] for entry in document.get("outbox") or []])
                )
        if unsent:
            await self._release(collection, unsent)
        if sent:
            await self._mark_sent(collection, sent)
            # A document a writer gave a new event meanwhile is still pending: its lease goes
            # back now, or no sweep (this one's neither) could relay that event for 30 s.
            await self._release(collection, [document_id for document_id, _ in sent])
        if error is not None:
            raise error
        return sum(len(ids) for _, ids in sent)

    async def _publish_document(self, document: Document) -> None:
        entries = document.get("outbox") or []
        if entries:
            await self._require_publisher().publish_all(Outgoing.from_document(e) for e in entries)

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

    async def _release(self, collection: Collection, document_ids: list[Any]) -> None:
        with contextlib.suppress(Exception):
            for chunk in in_chunks(document_ids):
                await collection.update_many(
                    {"_id": {"$in": chunk}}, {"$unset": {LEASE: "", LEASE_HOLDER: ""}}
                )

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

    async def relay(self, collection: Collection, selector: Document) -> int:
        document = await collection.find_one({**selector, PENDING: True}, {"outbox": 1})
        if document is None:
            return 0
        return await self._publish_and_remove(collection, document)

    async def _publish_and_remove(self, collection: Collection, document: Document) -> int:
        entries = document.get("outbox") or []
        if entries:
            await self._require_publisher().publish_all(Outgoing.from_document(e) for e in entries)
        await self._mark_sent(collection, [(document["_id"], [entry["id"] for entry in entries])])
        return len(entries)
