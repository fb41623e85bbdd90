"""Reporters answering the completion notice they received: satisfied, or not (a reopen).

The verdict goes to the feedback link the notice carries (dispatch's feedback endpoint) with the
notice's feedback code (the reporter's token) in X-Reporter-Token, once per completion, with an
Idempotency-Key of that completion's notice: a reporter who taps twice, or whose first tap timed
out, gives one verdict.
"""

from __future__ import annotations

import asyncio
import random
import time

from gridloop_simulator.config import Reporters as ReporterShares
from gridloop_simulator.http import ServiceClient
from gridloop_simulator.record import FeedbackSent, Record


class Reporters:
    def __init__(
        self,
        dispatch: ServiceClient,
        record: Record,
        shares: ReporterShares,
        *,
        speed: float,
        seed: int,
    ) -> None:
        self._dispatch = dispatch
        self._record = record
        self._shares = shares
        self._speed = speed
        self._rng = random.Random(f"{seed}:reporters")
        self._answered: set[str] = set()
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> int:
        return len(self._pending)

    def completed(self, case_id: str, notice_id: str, feedback_code: str) -> None:
        """A completion notice arrived (one per completion, whichever reporter got it)."""
        if notice_id in self._answered:
            return
        self._answered.add(notice_id)
        low, high = self._shares.feedback_delay_seconds
        delay = self._rng.uniform(low, high) / self._speed
        satisfied = self._rng.random() >= self._shares.unsatisfied
        task = asyncio.create_task(
            self._answer(case_id, notice_id, feedback_code, satisfied, delay)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def stop(self) -> None:
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _answer(
        self, case_id: str, notice_id: str, code: str, satisfied: bool, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        key = f"feedback-{notice_id}"
        body = {"satisfied": satisfied, "comment": None if satisfied else "问题没有解决，请再处理"}
        answer = await self._dispatch.request(
            "POST",
            f"/v1/cases/{case_id}/feedback",
            json=body,
            headers={"Idempotency-Key": key, "X-Reporter-Token": code},
        )
        self._record.feedback.append(
            FeedbackSent(case_id, notice_id, satisfied, time.time(), answer.status, key)
        )
        self._record.counters["feedback_satisfied" if satisfied else "feedback_unsatisfied"] += 1
