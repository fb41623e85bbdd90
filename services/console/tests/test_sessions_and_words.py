"""Sign-in sessions and the words, dates and numbers pages show."""

from __future__ import annotations

from datetime import UTC, datetime

from gridloop_console.labels import LABELS, Words, language_of
from gridloop_console.sessions import Role, Sessions
from gridloop_console.upstream import with_times

SESSIONS = Sessions(operator_key="op-key", viewer_key="view-key", max_age_seconds=3600)


def test_each_key_signs_in_as_its_role_and_nothing_else_does() -> None:
    assert SESSIONS.role_of_key("op-key") is Role.OPERATOR
    assert SESSIONS.role_of_key("view-key") is Role.VIEWER
    assert SESSIONS.role_of_key("op-key ") is None
    assert SESSIONS.role_of_key("") is None
    assert Role.OPERATOR.may_act and not Role.VIEWER.may_act


def test_a_session_cookie_names_its_role() -> None:
    assert SESSIONS.role_of_cookie(SESSIONS.issue(Role.VIEWER)) is Role.VIEWER
    assert SESSIONS.role_of_cookie(SESSIONS.issue(Role.OPERATOR)) is Role.OPERATOR


def test_a_forged_or_altered_cookie_is_nobody() -> None:
    token = SESSIONS.issue(Role.VIEWER)
    assert SESSIONS.role_of_cookie(token[:-2] + "xx") is None
    forged = Sessions("another-key", "view-key", 3600).issue(Role.OPERATOR)
    assert SESSIONS.role_of_cookie(forged) is None
    assert SESSIONS.role_of_cookie("not-a-token") is None


def test_a_new_key_ends_the_sessions_of_the_old_one() -> None:
    viewer_session = SESSIONS.issue(Role.VIEWER)
    rotated_viewer = Sessions("op-key", "new-view-key", 3600)
    assert rotated_viewer.role_of_cookie(viewer_session) is None
    operator_session = SESSIONS.issue(Role.OPERATOR)
    assert Sessions("new-op-key", "view-key", 3600).role_of_cookie(operator_session) is None


def test_an_expired_session_is_nobody() -> None:
    expired = Sessions("op-key", "view-key", max_age_seconds=-1)
    assert expired.role_of_cookie(SESSIONS.issue(Role.OPERATOR)) is None


def test_without_an_operator_key_nobody_signs_in() -> None:
    closed = Sessions("", "view-key", 3600)
    assert not closed.enabled
    assert closed.role_of_key("view-key") is None


def test_every_label_has_both_languages() -> None:
    assert all(zh and en for zh, en in LABELS.values())


def test_chinese_is_the_default_and_a_choice_is_kept() -> None:
    assert language_of(None, None, "zh") == "zh"
    assert language_of("en", None, "zh") == "en"
    assert language_of(None, "en", "zh") == "en"
    assert language_of("fr", None, "zh") == "zh"


def test_dates_are_the_city_time_and_numbers_are_grouped() -> None:
    words = Words("zh")
    assert words.when(datetime(2026, 12, 7, 16, 5, tzinfo=UTC)) == "2026-12-08 00:05"
    assert words.number(17334) == "17,334"
    assert words.percent(17317, 17334) == "99.9%"
    assert words.percent(0, 0) == "—"
    assert words.duration(3 * 3600 + 20 * 60 + 59) == "3小时20分"
    assert Words("en").duration(-125) == "2 min"


def test_units_are_named_in_the_chosen_language() -> None:
    assert Words("zh").department("water") != Words("en").department("water")
    assert Words("en")("board") == "SLA board"
    assert Words("zh")("board") == "时限看板"


def test_an_upstream_answers_moments_become_datetimes_and_the_rest_stays() -> None:
    answer = with_times(
        {"completed_at": "2026-12-07T16:20:47.926825Z", "created_at": None, "status": "completed"}
    )
    assert answer == {
        "completed_at": datetime(2026, 12, 7, 16, 20, 47, 926825, tzinfo=UTC),
        "created_at": None,
        "status": "completed",
    }
    assert Words("zh").when(answer["completed_at"]) == "2026-12-08 00:20"
