"""The reporter's token: proof that a caller is the resident who made a report.

A case id is no secret (it is derived from the report id, which Open311 lists publicly), so
acting on a case as its reporter — the verdict that closes or reopens it — needs something only
the reporter was given: this token, in intake's 202 answer and in notify's completion notice.

It is an HMAC of the report id under `REPORTER_TOKEN_SECRET`, which intake, dispatch and notify
share; nothing is stored, a retried report gets the same token, and a token says nothing about
any other report. Twelve base32 characters (60 bits) stay typeable from an SMS; guessing online
is hopeless long before rate limits. Rotating the secret invalidates every token in circulation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import SecretStr

# The development secret `make up`, the tests and the fault suite share. A city sets its own.
DEVELOPMENT_SECRET = "gridloop-development-reporter-token-secret"  # noqa: S105 (development)
TOKEN_HEADER = "X-Reporter-Token"  # noqa: S105 (a header name)
_LENGTH = 12


class ReporterTokens:
    def __init__(self, secret: SecretStr | str) -> None:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not value:
            raise ValueError("REPORTER_TOKEN_SECRET is empty")
        self._key = value.encode()

    def for_report(self, report_id: str) -> str:
        digest = hmac.new(self._key, b"reporter:" + report_id.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode()[:_LENGTH]

    def matches(self, report_id: str, presented: str | None) -> bool:
        """Whether `presented` is the token of `report_id` (any letter case, spaces ignored)."""
        if not presented:
            return False
        typed = presented.replace(" ", "").upper()
        return hmac.compare_digest(typed.encode(), self.for_report(report_id).encode())
