"""Partition-lease planning: a fair share each, surplus handed over, a dead replica's taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridloop_sla_monitor.partitions import Lease, LeasePlan, fair_share, plan

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=10)
EARLIER = NOW - timedelta(seconds=1)


def held(owner: str, *partitions: int, until: datetime = LATER) -> list[Lease]:
    return [Lease(p, owner, until) for p in partitions]


def test_a_lone_replica_claims_every_partition() -> None:
    result = plan(8, "a", [], {"a": LATER}, NOW)
    assert result.renew == () and result.release == ()
    assert sorted(result.claim) == list(range(8))


def test_the_share_is_rounded_up_so_no_partition_is_left_over() -> None:
    assert fair_share(16, 1) == 16
    assert fair_share(16, 3) == 6
    assert fair_share(16, 0) == 16


def test_a_replica_renews_what_it_holds_and_claims_only_up_to_its_share() -> None:
    leases = held("a", 0, 1, 2)
    result = plan(8, "b", leases, {"a": LATER, "b": LATER}, NOW)
    assert result.renew == ()
    assert len(result.claim) == 4
    assert not set(result.claim) & {0, 1, 2}


def test_a_replica_above_its_share_releases_the_surplus_for_a_newcomer() -> None:
    leases = held("a", *range(8))
    result = plan(8, "a", leases, {"a": LATER, "b": LATER}, NOW)
    assert result == LeasePlan(renew=(0, 1, 2, 3), release=(4, 5, 6, 7), claim=())


def test_a_dead_replicas_expired_leases_are_taken_over() -> None:
    leases = held("a", 0, 1, 2, 3) + held("dead", 4, 5, 6, 7, until=EARLIER)
    # The dead replica's heartbeat has expired too: "a" is alone and its share is everything.
    result = plan(8, "a", leases, {"a": LATER, "dead": EARLIER}, NOW)
    assert result.renew == (0, 1, 2, 3)
    assert sorted(result.claim) == [4, 5, 6, 7]


def test_a_live_replicas_leases_are_never_claimed() -> None:
    leases = held("a", 0, 1, 2, 3) + held("b", 4, 5, 6, 7)
    result = plan(8, "c", leases, {"a": LATER, "b": LATER, "c": LATER}, NOW)
    assert result.claim == ()


def test_a_released_lease_is_free_for_anyone() -> None:
    leases = [Lease(0, None, NOW), *held("a", 1)]
    result = plan(2, "b", leases, {"a": LATER, "b": LATER}, NOW)
    assert result.claim == (0,)


def test_replicas_claiming_together_prefer_different_partitions() -> None:
    first = plan(16, "replica-a", [], {"replica-a": LATER, "replica-b": LATER}, NOW).claim
    second = plan(16, "replica-b", [], {"replica-a": LATER, "replica-b": LATER}, NOW).claim
    assert len(first) == len(second) == 8
    assert len(set(first) & set(second)) < 8
