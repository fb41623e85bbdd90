"""HMAC-SHA256 signatures on outgoing webhooks, and the check a receiver runs (pure)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Gridloop-Signature"
# A receiver should refuse signatures older than this: a captured request cannot be replayed
# later (the Idempotency-Key covers honest retries, which are re-signed with a fresh time).
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Header value `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: float = TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: recompute over the raw body, compare in constant time, check age."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or not given:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, int(timestamp), body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
