"""Schemathesis over dispatch's, sla-monitor's, scoring's and notify's OpenAPI on real
infrastructure, with the operator's key (intake has its own, with its channel keys:
services/intake/tests/integration/test_schemathesis.py): no 5xx, every 4xx machine-readable."""

from __future__ import annotations

import httpx
import pytest

from gridloop_common.testing.fuzzing import fuzz_service
from tests.integration.departments import AS_OPERATOR
from tests.integration.system import System

pytestmark = pytest.mark.integration

# Bounded for 2 cores: about 45 operations in all, valid and invalid inputs mixed.
EXAMPLES_PER_OPERATION = 25
SERVICES = ("dispatch", "sla-monitor", "scoring", "notify")


def test_no_input_makes_a_service_answer_with_a_server_error_or_a_bare_4xx(
    system: System,
) -> None:
    system.start(list(SERVICES))
    failures: list[str] = []
    for service in SERVICES:
        base_url = system.url(service)

        def as_operator(case: object) -> None:
            # The staff routes would all stop at 401 without a key.
            headers = getattr(case, "headers", None) or {}
            case.headers = {**headers, **AS_OPERATOR}  # type: ignore[attr-defined]

        tally = fuzz_service(
            base_url, examples_per_operation=EXAMPLES_PER_OPERATION, prepare=as_operator
        )
        print(tally.summary(service))  # the record of the run in pytest's -rA output
        assert len(tally.examples) >= 4, (service, sorted(tally.examples))
        assert httpx.get(f"{base_url}/healthz").status_code == 200, f"{service} died"
        failures += [f"{service}: {failure}" for failure in tally.failures]
    assert not failures, "\n".join(failures)
