"""Schemathesis fuzzes every operation of intake's OpenAPI on real infrastructure: no 5xx, and
every 4xx with a machine-readable body (gridloop_common.testing.fuzzing)."""

from __future__ import annotations

import httpx
import pytest
from schemathesis import Case
from services.intake.tests.integration.conftest import API_KEY, OPERATOR_KEY

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS
from gridloop_common.testing.fuzzing import fuzz_service
from gridloop_common.testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

# Per operation, valid and invalid inputs mixed: enough to find a crash, bounded for 2 cores.
EXAMPLES_PER_OPERATION = 40
KEYS = {
    "/v1/channels/chat-group/messages": DEVELOPMENT_CHANNEL_KEYS["chat-group"],
    "/v1/channels/patrol/reports": DEVELOPMENT_CHANNEL_KEYS["patrol"],
    "/v1/channels/hotline/calls": DEVELOPMENT_CHANNEL_KEYS["hotline"],
    "/v1/reporters/erasure": OPERATOR_KEY,
}


def past_the_gates(case: Case) -> None:
    # Past the api_key gate, or every fuzzed Open311 post would stop at 403.
    if case.operation.path.endswith("/requests.json") and isinstance(case.body, dict):
        case.body["api_key"] = API_KEY
    # Past the channel systems' and the operator's keys too, and exempt from the rate limit (the
    # fuzzer posts from one address far faster than a resident; test_rate_limits covers it).
    case.headers = {**(case.headers or {}), "X-Api-Key": KEYS.get(case.path, API_KEY)}


def test_no_input_makes_intake_answer_with_a_server_error(intake_server: ServiceProcess) -> None:
    tally = fuzz_service(
        intake_server.base_url,
        examples_per_operation=EXAMPLES_PER_OPERATION,
        prepare=past_the_gates,
    )
    print(tally.summary("intake"))  # a record of the run in pytest's -s / -rA output
    assert len(tally.examples) >= 15, sorted(tally.examples)
    # Still alive after everything it was sent.
    assert httpx.get(f"{intake_server.base_url}/healthz").status_code == 200
    assert not tally.failures, "\n".join(tally.failures)
