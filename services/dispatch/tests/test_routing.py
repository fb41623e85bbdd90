"""Routing: the catalogue by default, area rules most specific first, triage when unsure."""

from __future__ import annotations

from gridloop_dispatch.routing import RoutingRule, Triage, candidate_rule_ids, route

TOWNSHIP_RULE = RoutingRule("township", "twp-hule", "garbage", "twp-hule")
VILLAGE_RULE = RoutingRule("village", "vil-hule-003", "garbage", "agriculture")
CITY_JOINT = RoutingRule(
    "city", "*", "illegal-building", "housing", ("city-mgmt", "natural-resources")
)


def test_a_category_goes_to_its_catalogue_department() -> None:
    found = route("flooding", "grd-x", "twp-xijin", None, [])
    assert not isinstance(found, Triage)
    assert (found.lead, found.cooperating, found.source) == ("water", (), "catalogue")


def test_a_township_rule_overrides_the_catalogue_in_that_township_only() -> None:
    inside = route("garbage", "grd-x", "twp-hule", "vil-hule-001", [TOWNSHIP_RULE])
    elsewhere = route("garbage", "grd-y", "twp-xijin", "vil-xijin-001", [TOWNSHIP_RULE])
    assert not isinstance(inside, Triage) and not isinstance(elsewhere, Triage)
    assert inside.lead == "twp-hule"
    assert elsewhere.lead == "city-mgmt"


def test_a_village_rule_beats_its_township_rule() -> None:
    found = route("garbage", "grd-x", "twp-hule", "vil-hule-003", [TOWNSHIP_RULE, VILLAGE_RULE])
    assert not isinstance(found, Triage)
    assert (found.lead, found.source) == ("agriculture", "village:vil-hule-003:garbage")


def test_a_city_rule_with_cooperators_makes_a_joint_action() -> None:
    found = route("illegal-building", "grd-x", "twp-xijin", None, [CITY_JOINT])
    assert not isinstance(found, Triage)
    assert found.joint
    assert (found.lead, found.cooperating) == ("housing", ("city-mgmt", "natural-resources"))


def test_a_rule_naming_an_unknown_unit_is_ignored() -> None:
    broken = RoutingRule("city", "*", "flooding", "no-such-bureau")
    found = route("flooding", "grd-x", None, None, [broken])
    assert not isinstance(found, Triage)
    assert found.lead == "water"


def test_unclassified_unlocated_and_unknown_reports_wait_for_triage() -> None:
    assert route("unclassified", "grd-x", None, None, []) == Triage(("unclassified",))
    assert route("flooding", "unlocated", None, None, []) == Triage(("unlocated",))
    assert route("no-such-thing", "unlocated", None, None, []) == Triage(
        ("unknown_category", "unlocated")
    )


def test_only_rules_that_could_apply_are_fetched() -> None:
    assert candidate_rule_ids("garbage", "twp-hule", "vil-hule-003") == [
        "city:*:garbage",
        "township:twp-hule:garbage",
        "village:vil-hule-003:garbage",
    ]
    assert candidate_rule_ids("garbage", None, None) == ["city:*:garbage"]
