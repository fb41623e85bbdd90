"""SoloGate: messages side by side, except one that must run alone."""

from __future__ import annotations

import asyncio

from gridloop_common.messaging.gate import SoloGate


async def test_together_holders_run_at_the_same_time() -> None:
    gate = SoloGate()
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with gate.together():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(5)))
    assert most == 5


async def test_alone_waits_for_those_inside_and_keeps_newcomers_out() -> None:
    gate = SoloGate()
    log: list[str] = []
    first_inside = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with gate.together():
            log.append("first in")
            first_inside.set()
            await release_first.wait()
            log.append("first out")

    async def solo() -> None:
        async with gate.alone():
            log.append("solo in")
            await asyncio.sleep(0.01)
            log.append("solo out")

    async def newcomer() -> None:
        async with gate.together():
            log.append("newcomer in")

    tasks = [asyncio.create_task(first())]
    await first_inside.wait()
    tasks.append(asyncio.create_task(solo()))
    await asyncio.sleep(0.01)  # solo is waiting now
    tasks.append(asyncio.create_task(newcomer()))
    await asyncio.sleep(0.01)
    assert log == ["first in"], "neither the solo nor the newcomer may enter yet"
    release_first.set()
    await asyncio.gather(*tasks)
    assert log == ["first in", "first out", "solo in", "solo out", "newcomer in"]


async def test_two_alone_holders_take_turns() -> None:
    gate = SoloGate()
    inside = 0
    most = 0

    async def solo() -> None:
        nonlocal inside, most
        async with gate.alone():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(solo() for _ in range(3)))
    assert most == 1


async def test_a_cancelled_waiter_does_not_block_the_gate() -> None:
    gate = SoloGate()
    entered = asyncio.Event()

    async def holder() -> None:
        async with gate.together():
            entered.set()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(holder())
    await entered.wait()
    waiter = asyncio.create_task(gate.alone().__aenter__())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await task
    async with asyncio.timeout(1):
        async with gate.together():
            pass
