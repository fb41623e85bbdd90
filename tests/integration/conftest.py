"""Cross-service fixtures: real processes, a private vhost, a webhook sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEY_ENV
from gridloop_common.testing.fixtures import Isolated
from tests.integration.departments import OPERATOR_KEY
from tests.integration.system import HttpSink, System

# Short windows so hours-long rules are tested in seconds (see docs/testing.md).
FAST_ENV = {
    "SLA_ACCEPT_WINDOW_SECONDS": "3",
    "SLA_TICK_SECONDS": "0.2",
    # News has a second to arrive before a deadline is judged (5 s in production).
    "SLA_EVIDENCE_GRACE_SECONDS": "1",
    "RETRY_DELAYS_MS": "200,400",
    "WAIT_FOR_EARLIER_SECONDS": "2",
    "OUTBOX_SWEEP_INTERVAL_SECONDS": "0.5",
    "OUTBOX_GRACE_SECONDS": "1",
    "PREFETCH": "32",
    # Areas' and departments' figures on ticks of half a second (30 s in production).
    "RECOMPUTE_GATHER_SECONDS": "0.5",
    # dispatch's center key: its case reads and operations are the operator's (or a unit's).
    "OPERATOR_API_KEY": OPERATOR_KEY,
    # intake's chat-group, patrol and hotline routes take their channel system's key.
    **DEVELOPMENT_CHANNEL_KEY_ENV,
    # The tests post from one address faster than any resident (intake's own tests cover it).
    "INTAKE_RATE_LIMIT_PER_ADDRESS": "",
}


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    server = HttpSink()
    yield server
    server.close()


@pytest.fixture
def system(
    isolated: Isolated, sink: HttpSink, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[System]:
    env = {**FAST_ENV, "NOTIFY_REPORTER_WEBHOOK_URL": sink.url}
    running = System(isolated=isolated, log_dir=tmp_path, env=env)
    try:
        yield running
    finally:
        running.stop_all()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(running.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
