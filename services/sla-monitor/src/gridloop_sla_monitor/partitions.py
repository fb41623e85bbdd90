"""Pure partition-lease planning: which partitions a replica renews, releases and claims."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Lease:
    partition: int
    owner: str | None
    expires_at: datetime | None

    def held_by(self, replica: str, now: datetime) -> bool:
        return self.owner == replica and self.expires_at is not None and self.expires_at > now

    def free(self, now: datetime) -> bool:
        return self.owner is None or self.expires_at is None or self.expires_at <= now


@dataclass(frozen=True)
class LeasePlan:
    renew: tuple[int, ...]
    release: tuple[int, ...]
    claim: tuple[int, ...]


def live_members(heartbeats: Mapping[str, datetime], me: str, now: datetime) -> set[str]:
    """Replicas whose heartbeat has not expired, this one always included."""
    return {replica for replica, expires_at in heartbeats.items() if expires_at > now} | {me}


def fair_share(partitions: int, members: int) -> int:
    return math.ceil(partitions / max(1, members))


def preference(replica: str, partition: int) -> int:
    """Replicas claiming at the same moment prefer different partitions (fewer lost races)."""
    # Not crc32: it is linear, so names differing in one character order partitions alike.
    digest = hashlib.blake2b(f"{replica}:{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def plan(
    partitions: int,
    me: str,
    leases: Sequence[Lease],
    heartbeats: Mapping[str, datetime],
    now: datetime,
) -> LeasePlan:
    """Hold a fair share: ceil(partitions / live replicas).

    A replica above its share releases the surplus (a newcomer takes it on its next round); one
    below claims free or expired leases. A dead replica's leases expire with its heartbeat, so the
    survivors' share grows and they claim them. Leases are only a division of labour: the
    conditional update on each timer stays the guard against firing twice while a lease changes
    hands.
    """
    by_partition = {lease.partition: lease for lease in leases}
    mine = sorted(p for p, lease in by_partition.items() if lease.held_by(me, now))
    share = fair_share(partitions, len(live_members(heartbeats, me, now)))
    keep, release = mine[:share], mine[share:]
    free = [p for p in range(partitions) if p not in by_partition or by_partition[p].free(now)]
    free.sort(key=lambda p: preference(me, p))
    claim = free[: max(0, share - len(keep))]
    return LeasePlan(renew=tuple(keep), release=tuple(release), claim=tuple(claim))
