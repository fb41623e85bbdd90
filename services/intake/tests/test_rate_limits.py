"""Public intake's rate limits: counted per address or per key, refused requests spend nothing."""

from __future__ import annotations

import time

import pytest

from gridloop_intake.rate_limits import RateLimits, valid_limits


def test_an_address_gets_its_budget_then_waits_out_the_window() -> None:
    limits = RateLimits("3/minute", "")
    assert [limits.wait_seconds(address="10.0.0.1", key=None) for _ in range(3)] == [0, 0, 0]
    wait = limits.wait_seconds(address="10.0.0.1", key=None)
    assert 1 <= wait <= 60


def test_addresses_and_keys_are_counted_apart() -> None:
    limits = RateLimits("1/minute", "2/minute")
    assert limits.wait_seconds(address="10.0.0.1", key=None) == 0
    assert limits.wait_seconds(address="10.0.0.1", key=None) > 0
    assert limits.wait_seconds(address="10.0.0.2", key=None) == 0
    # A keyed client behind the exhausted address is counted against its key.
    assert limits.wait_seconds(address="10.0.0.1", key="civic-app") == 0
    assert limits.wait_seconds(address="10.0.0.1", key="civic-app") == 0
    assert limits.wait_seconds(address="10.0.0.3", key="civic-app") > 0


def test_a_refused_request_spends_nothing_in_the_other_windows() -> None:
    limits = RateLimits("2/second;3/minute", "")
    for _ in range(2):
        assert limits.wait_seconds(address="a", key=None) == 0
    for _ in range(5):  # refused by the second's window: the minute's must not fill up
        assert limits.wait_seconds(address="a", key=None) > 0
    time.sleep(1.1)
    assert limits.wait_seconds(address="a", key=None) == 0  # the minute's third
    assert limits.wait_seconds(address="a", key=None) > 0  # and then it is full


def test_exempt_keys_and_empty_limits_are_never_refused() -> None:
    limits = RateLimits("1/minute", "1/minute", exempt_keys=["simulator"])
    assert all(limits.wait_seconds(address="a", key="simulator") == 0 for _ in range(50))
    off = RateLimits("", "")
    assert all(off.wait_seconds(address="a", key=None) == 0 for _ in range(50))


@pytest.mark.parametrize("notation", ["60/minute;600/hour", "10 per second", ""])
def test_valid_notations_pass(notation: str) -> None:
    assert valid_limits(notation) == notation


@pytest.mark.parametrize("notation", ["sixty a minute", "60/fortnight"])
def test_a_malformed_notation_is_refused(notation: str) -> None:
    with pytest.raises(ValueError):
        valid_limits(notation)
