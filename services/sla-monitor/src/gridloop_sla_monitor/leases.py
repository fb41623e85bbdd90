"""Partition leases: each replica scans only the timer partitions it holds a live lease on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from gridloop_common.clock import Clock, SystemClock
from gridloop_sla_monitor import partitions
from gridloop_sla_monitor.evidence import MemberBeat
from gridloop_sla_monitor.repository import LeaseRepository

log = structlog.stdlib.get_logger("gridloop.sla_monitor")

# A heartbeat document outlives its replica by this long, then the TTL index deletes it.
FORGET_AFTER = timedelta(hours=1)


def new_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Partitioning:
    """The partition count, read once from the database (the first replica's setting wins)."""

    def __init__(self, leases: LeaseRepository, wanted: int) -> None:
        self._leases = leases
        self._wanted = wanted
        self._count: int | None = None

    async def count(self) -> int:
        if self._count is None:
            self._count = await self._leases.partition_count(self._wanted)
            if self._count != self._wanted:
                log.warning(
                    "sla_partition_setting_ignored", stored=self._count, setting=self._wanted
                )
        return self._count


class LeaseKeeper:
    """Renews this replica's leases, takes its fair share, and hands surplus to newcomers.

    Lease expiry in the database uses wall-clock time (`SystemClock`, not the service's injected
    clock: leases are about processes being alive, not about SLA time). Locally a lease counts
    only until one renewal round before its expiry, measured on the monotonic clock, so a
    replica that cannot reach the database stops scanning before anyone else may start.

    Each heartbeat also says when it was written and the earliest event this replica's consumer
    holds (`holding`); the heartbeats read back are what the scan waits on (`evidence`).
    """

    def __init__(
        self,
        leases: LeaseRepository,
        partitioning: Partitioning,
        *,
        replica: str,
        lease_seconds: float,
        clock: Clock | None = None,
        on_change: Callable[[], None] = lambda: None,
        holding: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._leases = leases
        self._partitioning = partitioning
        self.replica = replica
        self._lease = timedelta(seconds=lease_seconds)
        self.round_seconds = lease_seconds / 3
        self._clock = clock or SystemClock()
        self.on_change = on_change
        self._holding = holding
        self._members: tuple[MemberBeat, ...] = ()
        # partition -> monotonic time until which this replica may scan it
        self._valid_until: dict[int, float] = {}

    def owned(self) -> tuple[int, ...]:
        now = time.monotonic()
        return tuple(sorted(p for p, until in self._valid_until.items() if until > now))

    def members(self) -> tuple[MemberBeat, ...]:
        """Every replica's heartbeat as read in the last round."""
        return self._members

    def holds(self, partition: int) -> bool:
        return self._valid_until.get(partition, 0.0) > time.monotonic()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.round()
                except Exception:
                    # The database is away: keep trying; the local validity lapses meanwhile,
                    # so this replica stops scanning before another may take over.
                    log.exception("sla_lease_round_failed", replica=self.replica)
                await asyncio.sleep(self.round_seconds)
        except asyncio.CancelledError:
            # Shutting down: hand the partitions over now rather than after they expire.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.release_all(), timeout=2.0)
            raise

    async def round(self) -> None:
        count = await self._partitioning.count()
        started = time.monotonic()
        now = self._clock.now()
        until = now + self._lease
        await self._leases.heartbeat(
            self.replica, until, until + FORGET_AFTER, beat_at=now, holding_since=self._holding()
        )
        stored, members = await self._leases.snapshot()
        self._members = tuple(members)
        leases = [partitions.Lease(d.partition, d.owner, d.expires_at) for d in stored]
        heartbeats = {m.replica: m.expires_at for m in members}
        plan = partitions.plan(count, self.replica, leases, heartbeats, now)
        # A lease counts locally until one round before it expires in the database.
        valid_until = started + self._lease.total_seconds() - self.round_seconds
        before = set(self.owned())
        for partition in plan.release:
            self._valid_until.pop(partition, None)
            await self._leases.release(partition, self.replica, now)
        for partition in plan.renew:
            if await self._leases.renew(partition, self.replica, until):
                self._valid_until[partition] = valid_until
            else:
                self._valid_until.pop(partition, None)
        for partition in plan.claim:
            if await self._leases.claim(partition, self.replica, now, until):
                self._valid_until[partition] = valid_until
        held = set(plan.renew) | set(plan.claim)
        for partition in list(self._valid_until):
            if partition not in held:
                self._valid_until.pop(partition)
        after = set(self.owned())
        if after != before:
            log.info(
                "sla_partitions_changed",
                replica=self.replica,
                gained=sorted(after - before),
                lost=sorted(before - after),
                holding=len(after),
            )
            self.on_change()

    async def release_all(self) -> None:
        now = self._clock.now()
        for partition in list(self._valid_until):
            self._valid_until.pop(partition, None)
            await self._leases.release(partition, self.replica, now)
        await self._leases.forget(self.replica)
