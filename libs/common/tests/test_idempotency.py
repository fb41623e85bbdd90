"""Idempotency-Key: the same fingerprint and ids in every process, one refusal for reuse."""

from __future__ import annotations

from gridloop_common.idempotency import IdempotencyKeyReused, id_for_key, request_fingerprint


def test_the_fingerprint_covers_endpoint_and_body_and_is_fixed_across_processes() -> None:
    body = b'{"a":1}'
    # Fixed: a fingerprint stored by one release must match the retry another release hears.
    assert request_fingerprint("/v1/reports", body) == (
        "bd0419b4197d059584306d482585276b82f70b20df38cf1de7b5983101cc3364"
    )
    assert request_fingerprint("/v1/reports", b'{"a":2}') != request_fingerprint(
        "/v1/reports", body
    )
    assert request_fingerprint("/v1/notices", body) != request_fingerprint("/v1/reports", body)


def test_a_key_names_one_id_per_endpoint() -> None:
    # Fixed: intake's report ids named by a key before this module existed stay the same.
    assert id_for_key("R-", "report", "/v1/reports", "k-1", 16) == "R-82bc3b091b8359fc"
    assert id_for_key("R-", "report", "/v1/other", "k-1", 16) != "R-82bc3b091b8359fc"


def test_a_reused_key_is_a_422_that_names_the_header() -> None:
    refusal = IdempotencyKeyReused()

    assert (refusal.status, refusal.code) == (422, "idempotency_key_reused")
    assert refusal.extra["errors"] == [
        {"field": "Idempotency-Key", "reason": "use a new key for a new request"}
    ]
