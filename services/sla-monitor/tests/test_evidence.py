"""The judged moment counts what every replica holds in hand (`evidence.confirmed_until`)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

from gridloop_sla_monitor.evidence import BEFORE_HELD, MemberBeat, Probe, confirmed_until

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def member(
    replica: str, beat: float | None, holding: float | None = None, expires: float = 100.0
) -> MemberBeat:
    return MemberBeat(
        replica,
        at(expires),
        beat_at=None if beat is None else at(beat),
        holding_since=None if holding is None else at(holding),
    )


def judge(
    probes: deque[Probe],
    members: list[MemberBeat],
    *,
    previous: datetime | None = None,
    holding_here: datetime | None = None,
    now: float = 20.0,
) -> datetime | None:
    return confirmed_until(
        previous, probes, members, me="a", wall_now=at(now), holding_here=holding_here
    )


def test_alone_a_probe_counts_at_once() -> None:
    probes = deque([Probe(at(10), at(5))])
    assert judge(probes, [member("a", 9)]) == at(5)
    assert not probes


def test_a_probe_waits_for_every_other_replica_to_beat_after_it() -> None:
    probes = deque([Probe(at(10), at(5))])
    # b beat before the probe: what b received just before it is not in that heartbeat.
    assert judge(probes, [member("b", 9.9)]) is None
    assert len(probes) == 1
    assert judge(probes, [member("b", 10.5)]) == at(5)


def test_only_the_probes_heard_after_count() -> None:
    probes = deque([Probe(at(10), at(5)), Probe(at(11), at(6)), Probe(at(12), at(7))])
    assert judge(probes, [member("b", 11.5), member("c", 13)]) == at(6)
    assert [p.checked_at for p in probes] == [at(12)]


def test_verdicts_stay_before_an_event_another_replica_holds() -> None:
    probes = deque([Probe(at(10), at(5))])
    judged = judge(probes, [member("b", 11, holding=3)])
    assert judged == at(3) - BEFORE_HELD


def test_verdicts_stay_before_an_event_held_here() -> None:
    probes = deque([Probe(at(10), at(5))])
    assert judge(probes, [], holding_here=at(4)) == at(4) - BEFORE_HELD


def test_a_held_event_after_the_candidate_changes_nothing() -> None:
    probes = deque([Probe(at(10), at(5))])
    assert judge(probes, [member("b", 11, holding=8)], holding_here=at(9)) == at(5)


def test_a_replica_expired_before_the_probe_is_not_waited_for() -> None:
    probes = deque([Probe(at(10), at(5))])
    dead = member("b", 2, holding=1, expires=8)
    assert judge(probes, [dead], now=16) == at(5)


def test_a_replica_silent_since_the_probe_is_waited_for_until_it_expires() -> None:
    probes = deque([Probe(at(10), at(5))])
    silent = member("b", 9, expires=15)
    assert judge(probes, [silent], now=14) is None
    assert len(probes) == 1


def test_a_probe_a_silent_replica_never_confirmed_is_void() -> None:
    # b may have held evidence at the probe and put it back in a queue since: judge by a later
    # probe, which counts it as waiting.
    probes = deque([Probe(at(10), at(5)), Probe(at(16), at(11))])
    silent = member("b", 9, holding=4, expires=15)
    assert judge(probes, [silent], now=17) == at(11)
    assert not probes


def test_a_replica_that_does_not_say_when_it_beat_is_not_waited_for() -> None:
    # A replica of an older version: its heartbeat carries only its expiry.
    probes = deque([Probe(at(10), at(5))])
    assert judge(probes, [member("b", None)]) == at(5)


def test_the_judged_moment_never_moves_back() -> None:
    probes = deque([Probe(at(10), at(5))])
    assert judge(probes, [member("b", 11, holding=2)], previous=at(4)) == at(4)


def test_nothing_confirmed_keeps_the_previous_moment() -> None:
    assert judge(deque(), [member("b", 11)], previous=at(4)) == at(4)
