"""Channel adapters: each request becomes the canonical submission, or a precise rejection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridloop_common.contracts import UNLOCATED, GeoPoint
from gridloop_common.registry import load_registry
from gridloop_intake.channels import chat_group, hotline, native, patrol
from gridloop_intake.submission import SubmissionRejected

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
REGISTRY = load_registry()
GRID = REGISTRY.grids[0]
GROUP = REGISTRY.chat_groups_of_grids([GRID.id])[0]
WORKER = REGISTRY.officers_of_grids([GRID.id])[0]
INSIDE = GRID.polygon.representative_point()


def test_native_report_at_a_point_is_placed_in_the_grid_containing_it() -> None:
    request = native.NewReport(
        category_code="road-damage",
        description="路面坑洼",
        location=GeoPoint(lat=INSIDE.y, lon=INSIDE.x),
    )
    submission = native.to_submission(request, REGISTRY, NOW)
    assert submission.placement.grid_id == GRID.id
    assert submission.placement.precision == "point"
    assert submission.placement.township_id == GRID.township_id


def test_native_report_outside_the_city_is_rejected_with_the_reason() -> None:
    request = native.NewReport(
        category_code="road-damage", description="x", location=GeoPoint(lat=39.9, lon=116.4)
    )
    with pytest.raises(SubmissionRejected) as raised:
        native.to_submission(request, REGISTRY, NOW)
    assert raised.value.code == "outside_city"
    assert raised.value.problems[0].field == "location"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"grid_id": "grd-nowhere", "category_code": "garbage"}, "unknown_grid", "grid_id"),
        ({"grid_id": GRID.id, "category_code": "no-such"}, "unknown_category", "category_code"),
    ],
)
def test_native_report_naming_unknown_things_is_rejected_naming_them(
    body: dict[str, str], code: str, field: str
) -> None:
    request = native.NewReport.model_validate({**body, "description": "x"})
    with pytest.raises(SubmissionRejected) as raised:
        native.to_submission(request, REGISTRY, NOW)
    assert raised.value.code == code
    assert raised.value.problems[0].field == field
    assert body[field] in raised.value.problems[0].reason


def test_native_reporter_contact_becomes_a_reply_address_and_stays_out_of_the_text() -> None:
    request = native.NewReport(
        grid_id=GRID.id,
        category_code="garbage",
        description="垃圾没人清运",
        reporter=native.ReporterContact(phone="13812345678", name="张三"),
    )
    submission = native.to_submission(request, REGISTRY, NOW)
    assert submission.contact.phone == "13812345678"
    assert submission.reply_to is not None
    assert submission.reply_to.channel == "sms"
    assert "13812345678" not in submission.description


def test_chat_message_is_placed_by_its_group_and_classified_from_its_text() -> None:
    request = chat_group.ChatMessage(
        group_id=GROUP.id, sender_id="wx-123", text="@居民助手 小区门口路灯坏了好几天"
    )
    submission = chat_group.to_submission(request, REGISTRY, NOW)
    assert submission.placement.grid_id == GRID.id
    assert submission.category_code == "street-light"
    assert submission.description == "小区门口路灯坏了好几天"
    assert submission.reply_to is not None
    assert submission.reply_to.address == GROUP.id


def test_chat_message_without_a_recognisable_problem_is_unclassified() -> None:
    request = chat_group.ChatMessage(group_id=GROUP.id, sender_id="wx-1", text="＠居民助理 你好呀")
    assert chat_group.to_submission(request, REGISTRY, NOW).category_code == "unclassified"


@pytest.mark.parametrize(
    ("group_id", "text", "code"),
    [
        ("grp-nowhere", "@居民助手 路灯坏了", "unknown_chat_group"),
        (GROUP.id, "路灯坏了", "not_addressed"),
    ],
)
def test_chat_message_rejections(group_id: str, text: str, code: str) -> None:
    request = chat_group.ChatMessage(group_id=group_id, sender_id="wx-1", text=text)
    with pytest.raises(SubmissionRejected) as raised:
        chat_group.to_submission(request, REGISTRY, NOW)
    assert raised.value.code == code


def test_patrol_report_uses_the_workers_grid() -> None:
    request = patrol.PatrolReport(
        worker_id=WORKER.id, category_code="illegal-building", description="新增违建"
    )
    submission = patrol.to_submission(request, REGISTRY, NOW)
    assert submission.placement.grid_id == WORKER.grid_id
    assert submission.worker_id == WORKER.id


def test_patrol_report_by_an_unknown_worker_names_the_worker() -> None:
    request = patrol.PatrolReport(worker_id="off-ghost", category_code="garbage", description="x")
    with pytest.raises(SubmissionRejected) as raised:
        patrol.to_submission(request, REGISTRY, NOW)
    assert raised.value.code == "unknown_worker"
    assert "off-ghost" in raised.value.problems[0].reason


def test_hotline_call_with_a_village_name_is_placed_at_that_village() -> None:
    request = hotline.HotlineCall(
        call_id="c-1",
        caller_phone="13912345678",
        address_text="宁国市中溪镇狮桥村三组",
        description="村里自来水停水两天了",
    )
    submission = hotline.to_submission(request, REGISTRY, NOW)
    assert submission.placement.grid_id == UNLOCATED
    assert submission.placement.precision == "village"
    assert submission.placement.township_id == "twp-zhongxi"
    assert submission.category_code == "water-outage"


def test_hotline_call_with_no_known_place_is_unlocated_for_triage() -> None:
    request = hotline.HotlineCall(
        call_id="c-2", caller_phone="13912345678", address_text="不知道", description="有人吵架"
    )
    submission = hotline.to_submission(request, REGISTRY, NOW)
    assert submission.placement.grid_id == UNLOCATED
    assert submission.placement.precision == "none"
