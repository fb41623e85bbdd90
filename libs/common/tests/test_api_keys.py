"""The key checks every service shares: operator, read-only viewer, channel systems."""

from __future__ import annotations

import pytest

from gridloop_common.api_keys import (
    CHANNEL_KEY_SETTINGS,
    DEVELOPMENT_CHANNEL_KEYS,
    require_api_key,
    require_operator,
    require_staff,
)
from gridloop_common.http_errors import ApiProblem
from gridloop_common.secrets import PUBLISHED_SECRETS

OPERATOR, VIEWER = "op-key", "view-key"


def refusal(call: object, *args: object, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(ApiProblem) as refused:
        call(*args, **kwargs)  # type: ignore[operator]
    return refused.value.status, refused.value.code


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE"])
def test_the_operator_reads_and_acts(method: str) -> None:
    require_staff(OPERATOR, method, operator=OPERATOR, viewer=VIEWER)


@pytest.mark.parametrize("method", ["GET", "head", "OPTIONS"])
def test_the_viewer_reads(method: str) -> None:
    require_staff(VIEWER, method, operator=OPERATOR, viewer=VIEWER)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_viewer_acting_is_403_read_only(method: str) -> None:
    assert refusal(require_staff, VIEWER, method, operator=OPERATOR, viewer=VIEWER) == (
        403,
        "read_only_key",
    )


def test_without_a_viewer_key_configured_nothing_passes_as_one() -> None:
    assert refusal(require_staff, "", "GET", operator=OPERATOR, viewer="") == (
        401,
        "missing_api_key",
    )
    assert refusal(require_staff, "x", "GET", operator=OPERATOR, viewer="") == (
        401,
        "invalid_api_key",
    )


def test_routes_without_a_configured_key_are_off_not_open() -> None:
    assert refusal(require_operator, "anything", "") == (503, "operator_api_disabled")
    assert refusal(require_api_key, "x", "", whose="hotline channel's", setting="S") == (
        503,
        "api_disabled",
    )


def test_every_channel_has_a_setting_and_a_published_development_key() -> None:
    assert set(CHANNEL_KEY_SETTINGS) == set(DEVELOPMENT_CHANNEL_KEYS)
    assert set(DEVELOPMENT_CHANNEL_KEYS.values()) <= PUBLISHED_SECRETS
