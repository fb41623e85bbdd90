"""Schemathesis fuzzes every operation of intake's OpenAPI on real infrastructure: no 5xx."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from services.intake.tests.integration.conftest import API_KEY

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS
from gridloop_common.testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

# Per operation, valid and invalid inputs mixed: enough to find a crash, bounded for 2 cores.
EXAMPLES_PER_OPERATION = 40
# uvicorn (h11) refuses a request head it cannot buffer with 400 and closes the connection;
# the client, still sending, sees a reset instead. That is the HTTP server's limit, not a crash.
HEAD_LIMIT = 16 * 1024
KEYS = {
    "/v1/channels/chat-group/messages": DEVELOPMENT_CHANNEL_KEYS["chat-group"],
    "/v1/channels/patrol/reports": DEVELOPMENT_CHANNEL_KEYS["patrol"],
    "/v1/channels/hotline/calls": DEVELOPMENT_CHANNEL_KEYS["hotline"],
}


def head_bytes(case: Case, base_url: str) -> int:
    sent = case.as_transport_kwargs(base_url=base_url)
    prepared = requests.Request(
        sent["method"], sent["url"], params=sent.get("params"), headers=sent.get("headers")
    ).prepare()
    headers = sum(len(f"{k}: {v}\r\n".encode()) for k, v in prepared.headers.items())
    return len(str(prepared.url).encode()) + headers


@dataclass
class Tally:
    examples: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    refused_heads: int = 0


def test_no_input_makes_intake_answer_with_a_server_error(intake_server: ServiceProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{intake_server.base_url}/openapi.json")
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [o.label for o in operations]

    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            # Every failure is collected below, so there is nothing to shrink.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Case) -> None:
            # Past the api_key gate, or every fuzzed Open311 post would stop at 403.
            label = case.operation.label
            if case.operation.path.endswith("/requests.json") and isinstance(case.body, dict):
                case.body["api_key"] = API_KEY
            # Past the channel systems' keys too, and exempt from the rate limit (the fuzzer
            # posts from one address far faster than a resident; test_rate_limits covers it).
            case.headers = {**(case.headers or {}), "X-Api-Key": KEYS.get(case.path, API_KEY)}
            tally.examples[label] = tally.examples.get(label, 0) + 1
            try:
                response = case.call(base_url=intake_server.base_url, timeout=30)
            except requests.ConnectionError as error:
                if head_bytes(case, intake_server.base_url) > HEAD_LIMIT:
                    tally.refused_heads += 1
                    return
                tally.server_errors.append(f"{label} -> {error!r}"[:500])
                return
            if response.status_code >= 500:
                tally.server_errors.append(
                    f"{label} -> {response.status_code} {response.text[:300]!r}\n"
                    f"  reproduce: {case.as_curl_command()[:2000]}"
                )

        exercise()

    print(  # a record of the run in pytest's -s / -rA output
        f"schemathesis: {len(operations)} operations, {sum(tally.examples.values())} examples, "
        f"{len(tally.server_errors)} server errors, {tally.refused_heads} oversized heads refused"
    )
    assert set(tally.examples) == {o.label for o in operations}
    # Still alive after everything it was sent.
    assert httpx.get(f"{intake_server.base_url}/healthz").status_code == 200
    assert not tally.server_errors, "\n".join(tally.server_errors)
