"""A task whose cancel was lost (Python 3.11, gh-86296) is still stopped."""

from __future__ import annotations

import asyncio
import contextlib

from gridloop_common.tasks import cancel_and_wait


async def test_a_task_that_swallowed_its_first_cancel_is_cancelled_again_until_it_ends() -> None:
    cancels = 0

    async def loses_its_first_cancel() -> None:
        nonlocal cancels
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancels += 1  # what a dropped cancel looks like from outside: the loop runs on
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancels += 1
                raise

    async def fails() -> None:
        raise ValueError("boom")

    stubborn = asyncio.create_task(loses_its_first_cancel())
    failed = asyncio.create_task(fails())
    await asyncio.sleep(0)
    # One cancel and a gather would wait for ever here.
    _, pending = await asyncio.wait({stubborn}, timeout=0.05)
    assert pending
    stubborn.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(stubborn), 0.1)
    assert not stubborn.done()

    await asyncio.wait_for(cancel_and_wait([stubborn, failed], every=0.05), 5)
    assert stubborn.cancelled() and cancels == 2
    assert isinstance(failed.exception(), ValueError)
