"""How far the scan may judge, counting the evidence in every replica's hands: pure, no I/O.

`clocks.judged_until` moves the judged moment on only while the broker says nothing waits in
the inbox. The broker counts a delivery a replica holds (received, being handled) as
*unacknowledged*, not as waiting: an acceptance dated just before its deadline can be in one
replica's hands while a scan, its own or another's, finds the inbox empty and announces the
breach (docs/reliability.md, "Why a breach can be announced for a clock met in time").

So each replica writes, with its heartbeat, the earliest event time among the deliveries it holds
(`holding_since`), and a probe of the broker ("nothing waits", at `checked_at`) counts only once
every other live replica has written a heartbeat since: a message that was not waiting at the
probe was acknowledged by then, or is in some replica's hands and in its next heartbeat. The
judged moment then stays before the earliest held event. A replica that stops beating (killed,
cut from the database) is waited for until its heartbeat expires; the probes it left unconfirmed
are then void, not confirmed: what it held went back to a queue after they were taken (a killed
replica's deliveries at once; a handler blocked on the database after `MONGODB_TIMEOUT_MS`, so
`SLA_LEASE_SECONDS` must be longer than that). A process frozen while holding a delivery for
longer than a lease is beyond what this can see.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

# Stored times have millisecond precision: judging a millisecond before a held event's time
# leaves every deadline it could meet unjudged (`clocks.in_time` counts the deadline as in time).
BEFORE_HELD = timedelta(milliseconds=1)
# Probes kept while another replica's heartbeat is awaited (five a second at most).
MAX_PROBES = 1_000


@dataclass(frozen=True)
class MemberBeat:
    """A replica's last heartbeat as read from the leases collection (wall-clock times)."""

    replica: str
    expires_at: datetime
    # When it wrote the heartbeat; None from a replica too old to say (it is not waited for).
    beat_at: datetime | None = None
    # The earliest event time among the deliveries it held then; None: it held none.
    holding_since: datetime | None = None


@dataclass(frozen=True)
class Probe:
    """The broker said nothing waits at `checked_at` (wall clock); `judged_until` then allowed
    judging up to `candidate`."""

    checked_at: datetime
    candidate: datetime


class Fate(Enum):
    CONFIRMED = "confirmed"  # every replica alive at the probe has beaten since
    WAITING = "waiting"  # one has not yet, and may
    VOID = "void"  # one alive at the probe expired without beating since: it may have held
    # evidence that is now back in a queue, which the probe did not count


def fate(probe: Probe, others: Sequence[MemberBeat], wall_now: datetime) -> Fate:
    for member in others:
        if member.beat_at is None or member.beat_at >= probe.checked_at:
            continue  # heard since (or too old a replica to say)
        if member.expires_at <= probe.checked_at:
            continue  # not alive at the probe: what it held was back in the queue by then
        return Fate.WAITING if member.expires_at > wall_now else Fate.VOID
    return Fate.CONFIRMED


def confirmed_until(
    previous: datetime | None,
    probes: deque[Probe],
    members: Sequence[MemberBeat],
    *,
    me: str,
    wall_now: datetime,
    holding_here: datetime | None,
) -> datetime | None:
    """The judged moment after the probes every other replica then alive has beaten since (they
    are taken from `probes`, in order), kept before the earliest event held here or in those
    heartbeats; never moving back from `previous`."""
    others = [m for m in members if m.replica != me]
    candidate: datetime | None = None
    while probes:
        outcome = fate(probes[0], others, wall_now)
        if outcome is Fate.WAITING:
            break
        probe = probes.popleft()
        if outcome is Fate.CONFIRMED:
            candidate = probe.candidate
    while len(probes) > MAX_PROBES:
        probes.popleft()
    if candidate is None:
        return previous
    alive = [m for m in others if m.expires_at > wall_now]
    held = [t for t in (holding_here, *(m.holding_since for m in alive)) if t is not None]
    if held:
        candidate = min(candidate, min(held) - BEFORE_HELD)
    return candidate if previous is None or candidate > previous else previous
