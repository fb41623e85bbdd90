"""Public intake's rate limits on the real app: 429 with Retry-After, and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from services.intake.tests.integration.conftest import API_KEY, intake_settings
from services.intake.tests.integration.test_intake import pothole
from services.intake.tests.integration.test_open311 import spec_form

from gridloop_common.mongo import Client
from gridloop_common.testing.fixtures import Isolated
from gridloop_intake.app import create_app
from gridloop_intake.bootstrap import IntakeDeps

pytestmark = pytest.mark.integration


@asynccontextmanager
async def intake_limited(isolated: Isolated, **limits: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings(isolated, **limits))
    deps: IntakeDeps = app.state.deps
    await deps.runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client
    finally:
        await deps.runtime.stop()


async def test_an_address_over_its_limit_gets_429_and_nothing_is_stored(
    isolated: Isolated, mongo_client: Client
) -> None:
    async with intake_limited(isolated, intake_rate_limit_per_address="2/minute") as client:
        answers = [await client.post("/v1/reports", json=pothole()) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        refused = answers[2]
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # A reporter's read counts against the same address: guessing tokens is slowed too.
        report_id = answers[0].json()["report_id"]
        read = await client.get(f"/v1/reports/{report_id}", headers={"X-Reporter-Token": "x"})
        assert read.status_code == 429
    reports = mongo_client[isolated.database("intake")]["reports"]
    assert await reports.count_documents({}) == 2


async def test_a_valid_open311_key_counts_apart_from_the_address_and_may_be_exempt(
    isolated: Isolated,
) -> None:
    limits = {
        "intake_rate_limit_per_address": "1/minute",
        "intake_rate_limit_per_key": "2/minute",
        "gridloop_open311_api_keys": (API_KEY, "exempt-key"),
        "intake_rate_limit_exempt_keys": ("exempt-key",),
    }
    async with intake_limited(isolated, **limits) as client:
        assert (await client.post("/v1/reports", json=pothole())).status_code == 202
        assert (await client.post("/v1/reports", json=pothole())).status_code == 429
        # Not a key of this city: counted against the (exhausted) address.
        stranger = await client.post(
            "/v1/reports", json=pothole(), headers={"X-Api-Key": "made-up"}
        )
        assert stranger.status_code == 429
        keyed = [
            await client.post("/v1/reports", json=pothole(), headers={"X-Api-Key": API_KEY})
            for _ in range(3)
        ]
        assert [a.status_code for a in keyed] == [202, 202, 429]
        exempt = [
            await client.post("/v1/reports", json=pothole(), headers={"X-Api-Key": "exempt-key"})
            for _ in range(5)
        ]
        assert {a.status_code for a in exempt} == {202}


async def test_an_open311_client_over_its_keys_limit_gets_the_specs_error_list(
    isolated: Isolated,
) -> None:
    async with intake_limited(isolated, intake_rate_limit_per_key="1/minute") as client:
        first = await client.post("/open311/v2/requests.json", data=spec_form())
        second = await client.post("/open311/v2/requests.json", data=spec_form())
    assert first.status_code == 201
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1
    [error] = second.json()
    assert error["code"] == 429 and error["field"] == "api_key"
