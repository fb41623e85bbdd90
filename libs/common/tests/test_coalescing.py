"""Concurrent callers share batches, and each gets its own answer or error."""

from __future__ import annotations

import asyncio

import pytest

from gridloop_common.coalescing import Coalescer


async def settle() -> None:
    """Let every ready task run until it waits on something."""
    for _ in range(5):
        await asyncio.sleep(0)


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, requests: list[int]) -> list[int | BaseException]:
        self.batches.append(list(requests))
        await self.release.wait()
        return [ValueError(f"odd {r}") if r % 2 else r * 10 for r in requests]


async def test_a_lone_caller_is_served_at_once_and_a_burst_waits_for_the_next_batch() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run, max_batch=3)
    first = asyncio.create_task(coalescer.submit(0))
    await settle()
    assert recorder.batches == [[0]]  # nobody waited for company

    burst = [asyncio.create_task(coalescer.submit(n)) for n in (2, 4, 6, 8)]
    await settle()
    recorder.release.set()
    assert await first == 0
    assert await asyncio.gather(*burst) == [20, 40, 60, 80]
    # What arrived during the first batch went out together, at most three at a time.
    assert recorder.batches == [[0], [2, 4, 6], [8]]


async def test_each_caller_gets_its_own_error_and_a_failed_batch_fails_only_its_callers() -> None:
    recorder = Recorder()
    recorder.release.set()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run)
    good, bad = await asyncio.gather(
        coalescer.submit(2), coalescer.submit(3), return_exceptions=True
    )
    assert good == 20
    assert isinstance(bad, ValueError) and str(bad) == "odd 3"

    calls = 0

    async def broken_then_fine(requests: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return list(requests)

    flaky: Coalescer[int, int] = Coalescer(broken_then_fine)
    with pytest.raises(ConnectionError):
        await flaky.submit(1)
    assert await flaky.submit(5) == 5  # the next batch is not poisoned by the last one


async def test_a_caller_that_went_away_does_not_stop_the_others_answers() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.run)
    blocker = asyncio.create_task(coalescer.submit(0))
    await settle()
    leaving = asyncio.create_task(coalescer.submit(2))
    staying = asyncio.create_task(coalescer.submit(4))
    await settle()
    leaving.cancel()
    recorder.release.set()
    assert await blocker == 0
    assert await staying == 40
    assert leaving.cancelled()
