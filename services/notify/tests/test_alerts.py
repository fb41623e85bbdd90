"""Subscription filters: what may be asked for, and which alerts and notices match."""

from __future__ import annotations

from gridloop_notify.alerts import (
    AlertFacts,
    Filters,
    hears_notice,
    inapplicable_filters,
    matches,
)


def breach(department: str = "city-mgmt", township: str | None = "twp-xijin") -> AlertFacts:
    return AlertFacts("sla.breached", department, township, "road-damage", "red")


def test_empty_filters_hear_everything() -> None:
    assert matches(Filters(), breach())


def test_every_filter_given_must_contain_the_events_value() -> None:
    chosen = Filters(departments=frozenset({"city-mgmt"}), township_ids=frozenset({"twp-xijin"}))
    assert matches(chosen, breach())
    assert not matches(chosen, breach(department="water"))
    assert not matches(chosen, breach(township="twp-jialu"))
    assert not matches(chosen, breach(township=None))


def test_colour_tells_a_warning_from_a_breach() -> None:
    yellow = Filters(colours=frozenset({"yellow"}))
    assert not matches(yellow, breach())
    assert matches(yellow, AlertFacts("sla.warning", "water", None, None, "yellow"))


def test_a_filter_an_event_cannot_carry_is_refused() -> None:
    assert inapplicable_filters(["case.flagged"], Filters(colours=frozenset({"red"}))) == {
        "case.flagged": ["colours"]
    }
    assert inapplicable_filters(
        ["notice", "sla.breached"], Filters(departments=frozenset({"water"}))
    ) == {"notice": ["departments"]}
    assert inapplicable_filters(["notice"], Filters(township_ids=frozenset({"twp-xijin"}))) == {}


def test_a_notice_reaches_subscribers_whose_townships_it_touches() -> None:
    xijin = Filters(township_ids=frozenset({"twp-xijin"}))
    assert hears_notice(xijin, None)  # the whole city
    assert hears_notice(xijin, frozenset({"twp-xijin", "twp-wangxi"}))
    assert not hears_notice(xijin, frozenset({"twp-jialu"}))
    assert hears_notice(Filters(), frozenset({"twp-jialu"}))
