"""Open311 adapter: catalogue as services, spec forms as submissions, reports as requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gridloop_common.catalogue import CATEGORIES
from gridloop_common.contracts import UNLOCATED
from gridloop_common.registry import load_registry
from gridloop_intake.channels import open311
from gridloop_intake.repository import service_request_of
from gridloop_intake.submission import SubmissionRejected

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
REGISTRY = load_registry()
GRID = REGISTRY.grids[3]
INSIDE = GRID.polygon.representative_point()


def form(**fields: str) -> list[tuple[str, str]]:
    values = {"service_code": "road-damage", "lat": str(INSIDE.y), "long": str(INSIDE.x)}
    values.update(fields)
    return [(k, v) for k, v in values.items() if v is not None]


def rejected(pairs: list[tuple[str, str]]) -> SubmissionRejected:
    with pytest.raises(SubmissionRejected) as raised:
        open311.to_submission(pairs, REGISTRY, NOW)
    return raised.value


def test_every_catalogue_category_is_a_service_grouped_by_its_department() -> None:
    assert [s["service_code"] for s in open311.SERVICES] == [c.code for c in CATEGORIES]
    garbage = next(s for s in open311.SERVICES if s["service_code"] == "garbage")
    assert garbage["service_name"] == "垃圾清运"
    assert garbage["group"] == "市城市管理局"
    assert "垃圾桶" in garbage["keywords"]
    assert garbage["type"] == "realtime"


def test_service_definitions_ask_severity_and_floor_or_landmark_where_it_helps() -> None:
    def codes(service: str) -> list[str]:
        definition = open311.service_definition(service)
        assert definition is not None
        return [a["code"] for a in definition["attributes"]]

    assert codes("elevator-fault") == ["severity", "floor"]
    assert codes("street-light") == ["severity", "landmark"]
    assert codes("wage-arrears") == ["severity"]
    assert open311.service_definition("no-such") is None


def test_a_spec_form_at_a_point_becomes_a_placed_open311_submission() -> None:
    submission = open311.to_submission(
        form(
            description="路面塌陷",
            media_url="https://example.org/1.jpg",
            **{"attribute[severity]": "high", "attribute[landmark]": "桥东"},
        ),
        REGISTRY,
        NOW,
    )
    assert submission.channel == "open311"
    assert submission.placement.grid_id == GRID.id
    assert submission.placement.precision == "point"
    assert submission.attributes == (("landmark", "桥东"), ("severity", "high"))
    assert submission.photo_urls == ("https://example.org/1.jpg",)
    assert submission.reply_to is not None
    assert submission.reply_to.channel == "open311"


def test_contact_fields_go_to_the_contact_and_email_is_the_reply_address() -> None:
    submission = open311.to_submission(
        form(
            email="Li.Si@Example.org",
            first_name="四",
            last_name="李",
            phone="+86 137 1234 5678",
            account_id="acc-9",
        ),
        REGISTRY,
        NOW,
    )
    assert submission.contact.email == "Li.Si@example.org"
    assert submission.contact.phone == "+86 137 1234 5678"
    assert submission.contact.name == "四 李"
    assert submission.reply_to is not None
    assert submission.reply_to.address == "Li.Si@example.org"
    assert "李" not in submission.description
    assert submission.external_ref == "open311-account:acc-9"


def test_every_problem_is_listed_at_once_without_echoing_contact_values() -> None:
    error = rejected(
        form(
            lat="91",
            email="nobody@@nowhere",
            phone="call me",
            description="x" * 4001,
            **{"attribute[severity]": "extreme", "attribute[floor]": "3"},
        )
    )
    fields = [p.field for p in error.problems]
    assert sorted(fields) == sorted(
        ["lat", "email", "phone", "description", "attribute[severity]", "attribute[floor]"]
    )
    assert all("nobody" not in p.reason and "call me" not in p.reason for p in error.problems)


@pytest.mark.parametrize(
    ("fields", "field", "needle", "code"),
    [
        ({"service_code": "no-such"}, "service_code", "no-such", "unknown_service_code"),
        ({"lat": "39.9", "long": "116.4"}, "lat", "outside the city", "outside_city"),
        ({"long": None}, "long", "together", "invalid_request"),
        ({"lat": "abc"}, "lat", "not a number", "invalid_request"),
        ({"lat": "nan"}, "lat", "between", "invalid_request"),
        ({"media_url": "ftp://x"}, "media_url", "http", "invalid_request"),
        (
            {"service_code": "road-damage", "lat": None, "long": None},
            "lat",
            "address",
            "invalid_request",
        ),
        (
            {"lat": None, "long": None, "address_id": "grd-nowhere"},
            "address_id",
            "grd-nowhere",
            "unknown_grid",
        ),
    ],
)
def test_each_bad_field_is_named_with_its_reason(
    fields: dict[str, Any], field: str, needle: str, code: str
) -> None:
    pairs = [
        (k, v)
        for k, v in {
            "service_code": "road-damage",
            "lat": str(INSIDE.y),
            "long": str(INSIDE.x),
            **fields,
        }.items()
        if v is not None
    ]
    error = rejected(pairs)
    assert [p.field for p in error.problems] == [field]
    assert needle in error.problems[0].reason
    if code != "unknown_grid":
        assert error.code == code


def test_a_repeated_field_is_a_problem_and_unknown_fields_are_ignored() -> None:
    error = rejected([*form(), ("service_code", "garbage")])
    assert [p.field for p in error.problems] == ["service_code"]
    assert open311.to_submission([*form(), ("x_vendor_field", "1")], REGISTRY, NOW)


def test_address_id_is_a_grid_and_address_string_is_placed_best_effort() -> None:
    by_grid = open311.to_submission(form(lat=None, long=None, address_id=GRID.id), REGISTRY, NOW)
    assert by_grid.placement.grid_id == GRID.id
    by_words = open311.to_submission(
        form(lat=None, long=None, address_string="宁国市中溪镇狮桥村三组"), REGISTRY, NOW
    )
    assert by_words.placement.grid_id == UNLOCATED
    assert by_words.placement.precision == "village"
    assert by_words.address == "宁国市中溪镇狮桥村三组"


def test_a_request_query_defaults_to_the_last_90_days() -> None:
    query = open311.request_query(
        service_request_id=None,
        service_code=None,
        start_date=None,
        end_date=None,
        status=None,
        now=NOW,
    )
    assert (query.start, query.end, query.closed) == (NOW - timedelta(days=90), NOW, None)


def test_request_ids_override_every_other_parameter() -> None:
    query = open311.request_query(
        service_request_id="R-1, R-2,R-1",
        service_code="no-such",
        start_date="garbage",
        end_date=None,
        status="weird",
        now=NOW,
    )
    assert query.ids == ("R-1", "R-2")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-05-01T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}, "start_date"),
        ({"start_date": "2026-05-01T00:00:00"}, "start_date"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"status": "pending"}, "status"),
        ({"service_code": "garbage,no-such"}, "service_code"),
    ],
)
def test_bad_request_queries_name_the_parameter(params: dict[str, str], field: str) -> None:
    arguments: dict[str, Any] = {
        "service_request_id": None,
        "service_code": None,
        "start_date": None,
        "end_date": None,
        "status": None,
        **params,
    }
    with pytest.raises(SubmissionRejected) as raised:
        open311.request_query(**arguments, now=NOW)
    assert [p.field for p in raised.value.problems] == [field]


def stored(**fields: Any) -> open311.ServiceRequest:
    """A stored report's document as the repository reads it for Open311."""
    return service_request_of(
        {
            "_id": "R-1",
            "status": "received",
            "channel": "open311",
            "category_code": "street-light",
            "description": "路灯不亮，联系 13812345678",
            "reported_at": NOW,
            "grid_id": GRID.id,
            "village_id": GRID.village_id,
            "township_id": GRID.township_id,
            "location": {"lat": INSIDE.y, "lon": INSIDE.x},
            "photo_urls": [],
            **fields,
        }
    )


def test_a_stored_report_renders_as_a_service_request() -> None:
    rendered = open311.render_request(
        stored(status="dispatched", department="city-mgmt", expected_by=NOW + timedelta(hours=72)),
        REGISTRY,
    )
    assert rendered["status"] == "open"
    assert rendered["agency_responsible"] == "市城市管理局"
    assert rendered["expected_datetime"] == "2026-11-29T09:00:00Z"
    assert rendered["requested_datetime"] == "2026-11-26T09:00:00Z"
    assert rendered["service_name"] == "路灯故障"
    assert rendered["address_id"] == GRID.id
    assert rendered["address"].startswith("宁国市")
    assert "13812345678" not in rendered["description"]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"status": "closed"}, "closed"),
        ({"status": "resolved"}, "closed"),
        ({"status": "completed"}, "open"),
        ({"status": "linked", "linked_to": "R-0"}, "open"),
        ({"status": "linked", "linked_to": "R-0", "case_status": "closed"}, "closed"),
    ],
)
def test_closed_means_the_case_is_closed_or_resolved(fields: dict[str, Any], status: str) -> None:
    assert open311.render_request(stored(**fields), REGISTRY)["status"] == status


def test_a_linked_report_names_its_original_and_texts_of_private_channels_stay_private() -> None:
    rendered = open311.render_request(
        stored(status="linked", linked_to="R-0", channel="chat_group"), REGISTRY
    )
    assert "R-0" in rendered["status_notes"]
    assert rendered["description"] is None
