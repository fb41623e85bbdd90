"""`Idempotency-Key`, the same in every service: the header, the request's fingerprint, the id a
key names, and one answer to a key reused for another request.

A client that did not hear the answer sends the request again with the same key; it takes
effect once and the answer says `Idempotent-Replayed: true`. The key names the result (a report,
a notice, a reply's effect) within one endpoint and one caller; the fingerprint of the first
request is kept beside it, so the same key with another body is refused (422) instead of
quietly answered with the first request's result, which would hide the client's bug.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header

from gridloop_common.envelope import derived_id
from gridloop_common.http_errors import ApiProblem

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
KEY_REUSED = "idempotency_key_reused"
KEY_REUSED_DETAIL = "this key was already used for a different request to this endpoint"
KEY_REUSED_REASON = "use a new key for a new request"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        max_length=MAX_KEY_LENGTH,
        description="Send a request again with the same key and it takes effect once; "
        "the same key with another body is refused (422 idempotency_key_reused).",
    ),
]


def request_fingerprint(scope: str, body: bytes) -> str:
    """What "the same request" means: the same endpoint (`scope`) and byte-identical body."""
    return hashlib.sha256(scope.encode() + b"\0" + body).hexdigest()


def id_for_key(prefix: str, namespace: str, scope: str, key: str, length: int) -> str:
    """The id a key names on one endpoint: a retry that races the first attempt collides on
    it (a primary key) instead of creating a second result."""
    return prefix + derived_id(namespace, scope, key).replace("-", "")[:length]


class IdempotencyKeyReused(ApiProblem):
    """The key was used before for a request with another body."""

    def __init__(self) -> None:
        super().__init__(
            422,
            KEY_REUSED,
            KEY_REUSED_DETAIL,
            errors=[{"field": IDEMPOTENCY_HEADER, "reason": KEY_REUSED_REASON}],
        )
