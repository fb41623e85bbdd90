"""The city operator's key: what the center's actions and the reads of residents' data need.

One key, `OPERATOR_API_KEY`, in `X-Api-Key`, for every service that has operator routes
(dispatch's center, notify's notices and subscriptions). Empty leaves those routes off (503):
a service started without a key must not be open instead.
"""

from __future__ import annotations

import hmac

from gridloop_common.http_errors import ApiProblem

API_KEY_HEADER = "X-Api-Key"


def operator_key_matches(presented: str, configured: str) -> bool:
    return bool(configured) and hmac.compare_digest(presented.encode(), configured.encode())


def require_operator(presented: str | None, configured: str) -> None:
    """Raise the error the caller gets unless `presented` is the configured operator key."""
    if not configured:
        raise ApiProblem(503, "operator_api_disabled", "OPERATOR_API_KEY is not configured")
    if not presented:
        raise ApiProblem(401, "missing_api_key", f"send the operator key in {API_KEY_HEADER}")
    if not operator_key_matches(presented, configured):
        raise ApiProblem(401, "invalid_api_key", "the key is not the operator key")
