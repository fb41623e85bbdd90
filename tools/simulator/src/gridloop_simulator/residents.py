"""Residents and grid workers sending the planned reports, open loop, at a fixed rate.

Report n leaves at start + n / rate (plus a seeded jitter), whether or not earlier answers came:
a slow system is met by a growing queue of residents, as in a city, not by a politer client.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Mapping, Sequence

from gridloop_simulator.city import PlannedReport
from gridloop_simulator.http import Answer, ServiceClient
from gridloop_simulator.record import Record, ReportSent

# Beyond this many unanswered requests the simulator, not the system, would become the limit.
MAX_IN_FLIGHT = 1_000


class Residents:
    def __init__(
        self,
        plan: Sequence[PlannedReport],
        intake: ServiceClient,
        record: Record,
        *,
        rate: float,
        open311_api_key: str,
        channel_api_keys: Mapping[str, str],
        seed: int,
    ) -> None:
        self._plan = plan
        self._intake = intake
        self._record = record
        self._rate = rate
        self._api_key = open311_api_key
        self._channel_keys = dict(channel_api_keys)
        self._rng = random.Random(seed + 1)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.sent = 0
        self.answered = 0

    async def run(self) -> None:
        """Send every report on its schedule; return when each has its final answer."""
        start = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        for planned in self._plan:
            due = start + planned.index / self._rate + self._rng.uniform(0, 0.5 / self._rate)
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            await self._slots.acquire()
            if self._slots.locked():
                self._record.counters["client_saturated"] += 1
            tasks.append(asyncio.create_task(self._send(planned)))
            self.sent += 1
        await asyncio.gather(*tasks)

    async def _send(self, planned: PlannedReport) -> None:
        try:
            sent = ReportSent(
                key=planned.key,
                channel=planned.channel,
                kind=planned.kind,
                sent_at=time.time(),
                repeats_key=planned.repeats_key,
            )
            self._record.reports.append(sent)
            answer = await self._post(planned)
            sent.answered_at = time.time()
            sent.attempts = answer.attempts
            sent.status = answer.status
            sent.error = answer.error
            if answer.response is not None and answer.status in (201, 202):
                sent.report_id, sent.linked_to = _report_of(planned, answer.response.json())
                self._record.counters["reports_accepted"] += 1
                if sent.linked_to:
                    self._record.counters["reports_linked"] += 1
            elif answer.status is not None and 400 <= answer.status < 500:
                self._record.counters["reports_refused"] += 1
            else:
                self._record.counters["reports_unanswered"] += 1
            if planned.retry_after_answer and sent.accepted:
                again = await self._post(planned)
                if again.response is not None and again.status in (201, 202):
                    sent.replay_report_id, _ = _report_of(planned, again.response.json())
                    sent.replay_flagged = (
                        again.response.headers.get("Idempotent-Replayed") == "true"
                    )
                self._record.counters["reports_replayed"] += 1
            self.answered += 1
        finally:
            self._slots.release()

    async def _post(self, planned: PlannedReport) -> Answer:
        headers = {"Idempotency-Key": planned.key}
        # The chat platform, patrol app and hotline post with their system's key, bad input too:
        # what is refused then is the body, not the caller.
        if planned.channel in self._channel_keys:
            headers["X-Api-Key"] = self._channel_keys[planned.channel]
        elif planned.channel == "native":
            # The simulated residents' app is one Open311 client: its key, not the one address
            # it posts from, is what intake's rate limit counts (and a city may exempt it).
            headers["X-Api-Key"] = self._api_key
        if planned.raw is not None:
            return await self._intake.request(
                "POST",
                planned.path,
                content=planned.raw,
                headers={**headers, "Content-Type": "application/json"},
            )
        if planned.form is not None:
            form = dict(planned.form)
            if planned.kind != "bad":
                form["api_key"] = self._api_key
            return await self._intake.request("POST", planned.path, data=form, headers=headers)
        return await self._intake.request(
            "POST",
            planned.path,
            content=json.dumps(planned.json, ensure_ascii=False).encode(),
            headers={**headers, "Content-Type": "application/json"},
        )


def _report_of(planned: PlannedReport, body: object) -> tuple[str | None, str | None]:
    """The report id and, for a linked duplicate, the report it joined."""
    if planned.channel == "open311":
        # GeoReport: [{"service_request_id": ..., "service_notice": ...}]
        if isinstance(body, list) and body and isinstance(body[0], dict):
            return body[0].get("service_request_id"), None
        return None, None
    if isinstance(body, dict):
        return body.get("report_id"), body.get("linked_to")
    return None, None
