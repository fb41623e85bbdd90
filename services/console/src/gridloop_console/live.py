"""Live updates: what changed, told to every browser watching this replica.

A replica hears at once what it projected itself. Replicas share one inbox, so an event may be
projected by another: while any browser watches, a watcher asks the feed once a second for
what the others projected. Browsers are told *that* something changed (the board, the feed, a
case); they fetch the fragment they show, so a missed or doubled signal costs one fetch, never
a wrong page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from gridloop_common.clock import Clock
from gridloop_console.repository import Projected

log = structlog.stdlib.get_logger("gridloop.console.live")

# A browser that reads slower than this many changes arrive gets a coalesced "everything".
QUEUE_SIZE = 256
WATCH_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Change:
    kind: str  # the timeline entry's kind, or "reported"
    case_id: str | None = None


class LiveHub:
    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[Change | None]] = set()

    @property
    def watched(self) -> bool:
        return bool(self._listeners)

    def publish(self, change: Change) -> None:
        for queue in self._listeners:
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # Too slow a reader: it loses the detail, not the news (None = "everything").
                queue.get_nowait()
                queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)


ProjectedElsewhere = Callable[[datetime, str], Awaitable[list[Projected]]]


@dataclass
class ReplicaWatcher:
    """Relays to this replica's hub what other replicas projected, while anyone watches."""

    hub: LiveHub
    projected_elsewhere: ProjectedElsewhere
    replica: str
    clock: Clock
    every_seconds: float = WATCH_EVERY_SECONDS
    _cursor: datetime | None = field(default=None, init=False)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            if not self.hub.watched:
                self._cursor = None  # nobody saw the gap: start from now when someone comes
                continue
            try:
                await self.relay_once()
            except Exception as error:  # the database is away: say so, try again next second
                log.warning("live_watch_failed", reason=str(error)[:200])

    async def relay_once(self) -> None:
        if self._cursor is None:
            self._cursor = self.clock.now()
            return
        for item in await self.projected_elsewhere(self._cursor, self.replica):
            self.hub.publish(Change(item.kind, item.case_id))
            self._cursor = max(self._cursor, item.projected_at)
