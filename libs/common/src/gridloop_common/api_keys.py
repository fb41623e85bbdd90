"""API keys in `X-Api-Key`: the city operator's, and those of the systems posting for a channel.

The operator's key, `OPERATOR_API_KEY`, opens every service's operator routes (dispatch's
center and case reads, notify's notices and subscriptions, sla-monitor's board). The read-only
viewer's key, `VIEWER_API_KEY` (a wall screen, an auditor), reads what the operator reads and
acts on nothing. intake's chat-group, patrol and
hotline routes each take the key of the one system that posts for that channel (the chat
platform's bridge, the grid workers' patrol app, the 12345 hotline). An empty key leaves its
routes off (503): a service started without a key must not be open instead.
"""

from __future__ import annotations

import hmac
from typing import Literal

from gridloop_common.http_errors import ApiProblem

API_KEY_HEADER = "X-Api-Key"

# intake's channels that one system posts for, each with its own key (native reports are the
# public's, Open311 clients have their `api_key`).
KeyedChannel = Literal["chat-group", "patrol", "hotline"]
CHANNEL_KEY_SETTINGS: dict[KeyedChannel, str] = {
    "chat-group": "INTAKE_CHAT_GROUP_API_KEY",
    "patrol": "INTAKE_PATROL_API_KEY",
    "hotline": "INTAKE_HOTLINE_API_KEY",
}
# The keys `make up`, compose's fallbacks, the simulator and the tests use; public, so a
# production start refuses them (gridloop_common.secrets).
DEVELOPMENT_CHANNEL_KEYS: dict[KeyedChannel, str] = {
    "chat-group": "dev-chat-group-key",
    "patrol": "dev-patrol-key",
    "hotline": "dev-hotline-key",
}
DEVELOPMENT_CHANNEL_KEY_ENV = {
    CHANNEL_KEY_SETTINGS[channel]: key for channel, key in DEVELOPMENT_CHANNEL_KEYS.items()
}


def keys_match(presented: str, configured: str) -> bool:
    return bool(configured) and hmac.compare_digest(presented.encode(), configured.encode())


def require_api_key(presented: str | None, configured: str, *, whose: str, setting: str) -> None:
    """Raise the error the caller gets unless `presented` is the configured key."""
    if not configured:
        raise ApiProblem(503, "api_disabled", f"{setting} is not configured")
    if not presented:
        raise ApiProblem(401, "missing_api_key", f"send the {whose} key in {API_KEY_HEADER}")
    if not keys_match(presented, configured):
        raise ApiProblem(401, "invalid_api_key", f"the key is not the {whose} key")


def require_operator(presented: str | None, configured: str) -> None:
    # `operator_api_disabled` is what the center's clients already branch on.
    if not configured:
        raise ApiProblem(503, "operator_api_disabled", "OPERATOR_API_KEY is not configured")
    require_api_key(presented, configured, whose="operator", setting="OPERATOR_API_KEY")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_staff(presented: str | None, method: str, *, operator: str, viewer: str) -> None:
    """The operator may read and act; the viewer may only read (403 `read_only_key` else)."""
    if presented and viewer and keys_match(presented, viewer):
        if method.upper() in SAFE_METHODS:
            return
        raise ApiProblem(
            403, "read_only_key", "the viewer key only reads; acting takes the operator key"
        )
    require_operator(presented, operator)
