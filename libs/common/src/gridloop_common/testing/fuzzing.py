"""Schemathesis over a running service's OpenAPI: every operation, valid and invalid inputs.

What counts as a failure: a 5xx answer, a dropped connection, or a 4xx without a
machine-readable body (a JSON object with a string `code`, as `gridloop_common.http_errors`
writes them; GeoReport v2's own list of `{code, description}` on the Open311 routes). Every
failure is collected (nothing is shrunk), so one run reports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

# uvicorn (h11) refuses a request head it cannot buffer with 400 and closes the connection;
# the client, still sending, sees a reset instead. That is the HTTP server's limit, not a crash.
HEAD_LIMIT = 16 * 1024


@dataclass
class FuzzTally:
    examples: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    refused_heads: int = 0

    def summary(self, service: str) -> str:
        return (
            f"schemathesis {service}: {len(self.examples)} operations, "
            f"{sum(self.examples.values())} examples, {len(self.failures)} failures, "
            f"{self.refused_heads} oversized heads refused"
        )


# schemathesis' Case and Response types are generic over its internals: `Any` here.
def machine_readable(response: Any) -> bool:
    try:
        body: Any = response.json()
    except ValueError:
        return False
    if isinstance(body, dict):
        return isinstance(body.get("code"), str)
    return (
        isinstance(body, list)
        and bool(body)
        and all(
            isinstance(item, dict) and "code" in item and "description" in item for item in body
        )
    )


def head_bytes(case: Any, base_url: str) -> int:
    sent = case.as_transport_kwargs(base_url=base_url)
    prepared = requests.Request(
        sent["method"], sent["url"], params=sent.get("params"), headers=sent.get("headers")
    ).prepare()
    headers = sum(len(f"{k!s}: {v!s}\r\n".encode()) for k, v in prepared.headers.items())
    return len(str(prepared.url).encode()) + headers


def fuzz_service(
    base_url: str,
    *,
    examples_per_operation: int,
    prepare: Callable[[Any], None] = lambda case: None,
) -> FuzzTally:
    """Every operation of the service's OpenAPI, `examples_per_operation` cases each,
    derandomized (CI runs the same cases every time). `prepare` sets credentials."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tally = FuzzTally()
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]  # a bad schema raises here
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=examples_per_operation,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            label = case.operation.label
            prepare(case)
            tally.examples[label] = tally.examples.get(label, 0) + 1
            try:
                response = case.call(base_url=base_url, timeout=30)
            except requests.ConnectionError as error:
                if head_bytes(case, base_url) > HEAD_LIMIT:
                    tally.refused_heads += 1
                    return
                tally.failures.append(f"{label} -> {error!r}"[:500])
                return
            if response.status_code >= 500 or (
                response.status_code >= 400 and not machine_readable(response)
            ):
                tally.failures.append(
                    f"{label} -> {response.status_code} {response.text[:300]!r}\n"
                    f"  reproduce: {case.as_curl_command()[:2000]}"
                )

        exercise()
    return tally
