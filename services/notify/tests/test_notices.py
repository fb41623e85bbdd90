"""The pure notice rules: who is told, the stable notice id, the words, the failure verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridloop_common.contracts import CaseAccepted
from gridloop_notify.notices import (
    case_accepted_text,
    is_final_attempt,
    is_permanent_failure,
    is_success,
    notice_id,
    reporter_notice,
)


def accepted(reporter_id: str | None = "rp-7f3a", department: str = "city-mgmt") -> CaseAccepted:
    return CaseAccepted(
        case_id="C-1",
        order_id="O-1",
        department=department,
        category_code="road-damage",
        grid_id="g1",
        report_id="R-1",
        reporter_id=reporter_id,
        accepted_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )


def test_notice_id_is_the_same_for_the_same_event_and_differs_between_events() -> None:
    assert notice_id("case_accepted", "ev-1") == notice_id("case_accepted", "ev-1")
    assert notice_id("case_accepted", "ev-1") != notice_id("case_accepted", "ev-2")


def test_reporter_notice_carries_the_webhook_body_keyed_by_the_derived_id() -> None:
    notice = reporter_notice(accepted(), "ev-1")
    assert notice is not None
    assert notice.notice_id == notice_id("case_accepted", "ev-1")
    assert notice.recipient_id == "rp-7f3a"
    assert dict(notice.body) == {
        "notice_id": notice.notice_id,
        "kind": "case_accepted",
        "case_id": "C-1",
        "report_id": "R-1",
        "reporter_id": "rp-7f3a",
        "department": "city-mgmt",
        "accepted_at": "2026-11-26T08:00:00+00:00",
        "text": notice.text,
    }


def test_case_without_a_reporter_needs_no_notice() -> None:
    assert reporter_notice(accepted(reporter_id=None), "ev-1") is None


def test_text_names_the_department_in_chinese_and_english() -> None:
    text = case_accepted_text("C-9", "city-mgmt")
    assert "市城市管理局受理" in text
    assert "accepted by the Urban Management Bureau" in text
    assert text.count("C-9") == 2


def test_text_falls_back_to_the_code_of_an_unknown_department() -> None:
    text = case_accepted_text("C-9", "fire-brigade")
    assert "已由fire-brigade受理" in text
    assert "accepted by fire-brigade." in text


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success(status: int) -> None:
    assert is_success(status)


@pytest.mark.parametrize("status", [199, 301, 400, 500])
def test_other_statuses_are_not_success(status: int) -> None:
    assert not is_success(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422, 499])
def test_client_errors_are_permanent(status: int) -> None:
    assert is_permanent_failure(status)


@pytest.mark.parametrize("status", [408, 429, 301, 500, 502, 503, 504])
def test_timeouts_throttling_redirects_and_server_errors_are_retried(status: int) -> None:
    assert not is_permanent_failure(status)


def test_final_attempt_follows_the_consumer_retry_tiers() -> None:
    delays = (1_000, 5_000)
    assert [is_final_attempt(n, delays) for n in (1, 2, 3)] == [False, False, True]
    assert is_final_attempt(1, ())
