"""Serving many concurrent callers with few database commands, each awaiting its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Answer = TypeVar("Answer")

# Answers one batch: for each request in order, its answer or the error it alone failed with.
BatchRunner = Callable[[list[Request]], Awaitable[Sequence[Answer | BaseException]]]


class Coalescer(Generic[Request, Answer]):
    """Runs what arrives while a batch is in flight as the next batch.

    A lone caller is served at once (a batch of one); a burst shares commands, so the per-command
    cost (a round trip, a query plan, the stand-in's per-command bookkeeping) is paid per batch.
    No timer: nobody waits for company. Should the runner raise, every caller in its batch gets
    the error.
    """

    def __init__(self, run_batch: BatchRunner[Request, Answer], max_batch: int = 64) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._waiting: list[tuple[Request, asyncio.Future[Answer]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Answer:
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._answer(batch)
        finally:
            self._flushing = None

    async def _answer(self, batch: list[tuple[Request, asyncio.Future[Answer]]]) -> None:
        outcomes: Sequence[Answer | BaseException]
        try:
            outcomes = await self._run_batch([request for request, _ in batch])
        except Exception as error:  # the batch as a whole failed: so did each request in it
            outcomes = [error] * len(batch)
        if len(outcomes) != len(batch):  # pragma: no cover - a runner bug, said loudly
            mismatch = RuntimeError(f"{len(outcomes)} answers for {len(batch)} requests")
            outcomes = [mismatch] * len(batch)
        for (_, answer), outcome in zip(batch, outcomes, strict=True):
            if answer.done():  # the caller went away; the work was done all the same
                continue
            if isinstance(outcome, BaseException):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)
