"""The pure notice rules: who hears what, on which channel, under which stable id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseFlagged,
    ExcellentCase,
    ReplyAddress,
    ScoringPeriodClosed,
    SlaBreached,
    SlaWarning,
    TopPerformer,
)
from gridloop_common.registry import UnknownAreaError, load_registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_notify.audience import Audience
from gridloop_notify.delivery import RECORD_ONLY
from gridloop_notify.notices import (
    CLOSED_REASON,
    ERASED_REASON,
    OPEN311_REASON,
    REPORTER_WEBHOOK_SIGNER,
    Endpoints,
    ReplyRecord,
    Subscriber,
    accepted_notice,
    alert_notice,
    broadcast_plan,
    closed_notice,
    commendation_notice,
    completed_notice,
    new_broadcast_id,
    reporter_segments,
)

TOKENS = ReporterTokens("test-secret")
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ALL = Endpoints(chat_group=True, sms=True, email=True, reporter_webhook_url="https://app.example/h")
CASE = {
    "case_id": "C-1",
    "order_id": "O-1",
    "department": "city-mgmt",
    "category_code": "road-damage",
    "grid_id": "grd-xijin-001-01",
    "township_id": "twp-xijin",
    "report_id": "R-1",
    "reporter_id": "P-1",
}


def record(report: str, channel: str | None, address: str | None = None) -> ReplyRecord:
    reply = ReplyAddress(channel=channel, address=address) if channel else None  # type: ignore[arg-type]
    return ReplyRecord(report, f"P-{report}", reply)


def routed(
    records: list[ReplyRecord], endpoints: Endpoints = ALL
) -> dict[str, list[tuple[str, str]]]:
    return {
        s.channel: [(r.recipient_id, r.address or (r.skip_reason or "")) for r in s.recipients]
        for s in reporter_segments(records, endpoints)
    }


def test_each_reporter_is_answered_on_the_channel_they_reported_through() -> None:
    assert routed(
        [
            record("R-1", "sms", "13800001111"),
            record("R-2", "chat_group", "grp-a"),
            record("R-3", "email", "a@b.example"),
            record("R-4", "open311"),
            record("R-5", None),
        ]
    ) == {
        "chat_group": [("grp-a", "grp-a")],
        "sms": [("P-R-1", "13800001111")],
        "email": [("P-R-3", "a@b.example")],
        "webhook": [("P-R-5", "https://app.example/h")],
        RECORD_ONLY: [("P-R-4", OPEN311_REASON)],
    }


def test_a_chat_group_hears_once_however_many_of_its_members_reported() -> None:
    records = [record("R-1", "chat_group", "grp-a"), record("R-2", "chat_group", "grp-a")]
    assert routed(records) == {"chat_group": [("grp-a", "grp-a")]}


def test_an_unconfigured_channel_or_missing_webhook_is_recorded_with_the_reason() -> None:
    bare = Endpoints(chat_group=False, sms=False, email=False, reporter_webhook_url="")
    got = routed([record("R-1", "sms", "13800001111"), record("R-2", None)], bare)
    assert list(got) == [RECORD_ONLY]
    assert [reason for _, reason in got[RECORD_ONLY]] == [
        "the sms channel is not configured",
        "no reply channel, and NOTIFY_REPORTER_WEBHOOK_URL is empty",
    ]


def test_news_for_a_closed_case_is_recorded_not_sent_on_another_channel() -> None:
    # An acceptance redelivered after the closure: the address is gone, the webhook is no
    # substitute for the reporter's own channel.
    late = ReplyRecord("R-1", "P-R-1", None, closed=True)
    assert routed([late]) == {RECORD_ONLY: [("P-R-1", CLOSED_REASON)]}


def test_news_for_an_erased_reporter_is_recorded_and_sent_nowhere() -> None:
    # Not to the reporter webhook either: the resident asked to be forgotten.
    erased = ReplyRecord("R-1", "P-R-1", None, erased=True)
    assert routed([erased]) == {RECORD_ONLY: [("P-R-1", ERASED_REASON)]}


def test_the_reporter_webhook_is_signed_with_its_own_setting() -> None:
    (segment,) = reporter_segments([record("R-1", None)], ALL)
    assert segment.recipients[0].secret_ref == REPORTER_WEBHOOK_SIGNER


def test_accepted_notice_is_keyed_by_order_and_names_the_department() -> None:
    event = CaseAccepted(**CASE, accepted_at=NOW)
    notice = accepted_notice(event, "ev-1", [record("R-1", "sms", "13800001111")], ALL)
    again = accepted_notice(event, "ev-2", [record("R-1", "sms", "13800001111")], ALL)
    redispatched = accepted_notice(
        CaseAccepted(**{**CASE, "order_id": "O-2"}, accepted_at=NOW), "ev-3", [], ALL
    )
    assert notice.notice_id == again.notice_id != redispatched.notice_id
    assert "已由市城市管理局受理" in notice.text
    assert "报告 R-1，案件 C-1" in notice.text
    assert notice.data["case_id"] == "C-1" and notice.data["report_id"] == "R-1"
    assert notice.case_id == "C-1" and notice.report_ids == ("R-1",)


def test_completed_notice_carries_the_feedback_link_and_the_reporters_token() -> None:
    event = CaseCompleted(**CASE, completed_at=NOW, result="坑已填平")
    notice = completed_notice(
        event,
        "ev-1",
        [record("R-1", "sms", "138")],
        ALL,
        feedback_base_url="https://fb.example",
        tokens=TOKENS,
    )
    assert notice is not None
    assert notice.data["feedback_url"] == "https://fb.example/v1/cases/C-1/feedback"
    # The code is the token of the case's report, not the (public) case id.
    assert notice.data["feedback_code"] == "TYFZEGN3ZU5F"
    assert "https://fb.example/v1/cases/C-1/feedback" in notice.text
    assert "评价码 TYFZEGN3ZU5F" in notice.text and "坑已填平" in notice.text


def test_a_cooperating_units_completion_is_not_news_for_the_reporter() -> None:
    event = CaseCompleted(**CASE, completed_at=NOW, case_complete=False)
    none = completed_notice(
        event, "ev-1", [], ALL, feedback_base_url="https://fb.example", tokens=TOKENS
    )
    assert none is None


@pytest.mark.parametrize(
    ("satisfied", "words"), [(True, "感谢您的评价"), (False, "重新办理次数已达上限")]
)
def test_closed_notice_thanks_or_explains(satisfied: bool, words: str) -> None:
    notice = closed_notice(CaseClosed(**CASE, closed_at=NOW, satisfied=satisfied), "ev", [], ALL)
    assert words in notice.text
    assert notice.data["satisfied"] is satisfied


def test_a_breach_alert_names_order_department_deadline_and_how_late() -> None:
    subscriber = Subscriber("S-1", "webhook", "https://duty.example/h")
    event = SlaBreached(
        **{k: v for k, v in CASE.items() if k not in ("report_id", "reporter_id")},
        clock="complete",
        deadline=NOW,
        fired_at=NOW + timedelta(minutes=5),
        late_seconds=3_900,
    )
    notice = alert_notice(event, "ev-9", [subscriber])
    assert notice.kind == "sla_breached"
    assert notice.data["late_seconds"] == 3_900
    assert notice.data["deadline"] == NOW.isoformat()
    assert "工单 O-1" in notice.text and "市城市管理局" in notice.text
    assert "办结时限 2026-11-26 16:00" in notice.text and "已逾期 1小时5分钟" in notice.text
    (segment,) = notice.segments
    assert segment.recipients[0].secret_ref == "subscription:S-1"


def test_a_warning_says_how_much_time_is_left_and_a_flag_has_no_deadline() -> None:
    fields = {k: v for k, v in CASE.items() if k not in ("report_id", "reporter_id")}
    warning = SlaWarning(
        **fields, clock="accept", deadline=NOW, fired_at=NOW - timedelta(hours=2), threshold=0.75
    )
    notice = alert_notice(warning, "ev", [])
    assert notice.data["late_seconds"] == -7_200
    assert "剩余 2小时" in notice.text
    flagged = alert_notice(CaseFlagged(**fields, flagged_at=NOW, bounces=4, threshold=3), "e", [])
    assert flagged.data["deadline"] is None and flagged.data["bounces"] == 4
    assert "退回 4 次（上限 3）" in flagged.text


def test_commendations_go_to_the_city_once_per_period_naming_cases_and_performers() -> None:
    registry = load_registry()
    event = ScoringPeriodClosed(
        period="2026-Q4",
        granularity="quarter",
        closed_at=NOW,
        excellent_cases=(
            ExcellentCase(case_id="C-7", category_code="road-damage", department="city-mgmt"),
        ),
        top_performers=(
            TopPerformer(
                level="township", entity_id="twp-xijin", metric="cases_completed", value=120
            ),
        ),
    )
    notice = commendation_notice(event, "ev-1", registry, ())
    assert notice.notice_id == commendation_notice(event, "ev-2", registry, ()).notice_id
    assert "C-7（道路破损，市城市管理局）" in notice.text
    assert "西津街道（cases_completed 120）" in notice.text
    assert notice.audience == Audience.city()
    assert notice.data["excellent_cases"][0]["case_id"] == "C-7"


def test_a_broadcast_plans_one_message_per_group_and_per_household_of_the_area() -> None:
    registry = load_registry()
    city = broadcast_plan(registry, Audience.city(), ["chat_group", "sms"], [])
    assert [(s.channel, s.count) for s in city] == [("chat_group", 3_413), ("sms", 86_426)]
    jialu = broadcast_plan(
        registry,
        Audience("township", ("twp-jialu",)),
        ["sms", "webhook"],
        [Subscriber("S-1", "webhook", "https://x.example"), Subscriber("S-2", "email", "a@b.c")],
    )
    assert [(s.channel, s.count) for s in jialu] == [("sms", 2_976), ("webhook", 1)]
    with pytest.raises(UnknownAreaError):
        broadcast_plan(registry, Audience("village", ("vil-nowhere",)), ["sms"], [])


def test_the_same_idempotency_key_names_the_same_broadcast() -> None:
    assert new_broadcast_id("/v1/notices", "k-1", "x") == new_broadcast_id(
        "/v1/notices", "k-1", "y"
    )
    assert new_broadcast_id("/v1/notices", "k-1", "x") != new_broadcast_id(
        "/v1/notices", "k-2", "x"
    )
    assert new_broadcast_id("/v1/notices", None, "abc") == "N-abc"
