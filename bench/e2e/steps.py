"""A step of the whole-loop benchmark, for either pipeline: what was sent, how long it took."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# A step's p99 report → order above this is not sustainable (issue 16).
ORDER_P99_LIMIT = 2.0
# How long after its last report the inboxes take to empty is printed, not judged: in the
# loop the city goes on (departments finish, reporters answer) for seconds after it.
DRAIN_TIMEOUT_SECONDS = 60.0
# A backlog is bounded when the deepest inbox over the step's last third is on average no
# more than twice what it was over its middle third, plus this many messages (noise).
BACKLOG_SLACK = 10


@dataclass
class Step:
    rate: float
    reports: int
    accepted: int = 0
    failed: int = 0
    to_order: list[float] = field(default_factory=list)
    to_close: list[float] = field(default_factory=list)
    deepest_inbox: tuple[str, int] = ("", 0)
    drained_after: float | None = None  # seconds from the last report to empty inboxes
    backlog: list[int] = field(default_factory=list)  # the deepest inbox, each second sending
    commands: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # sending
    wall: float = 0.0  # sending and settling: what the commands were counted over

    @property
    def sustainable(self) -> bool:
        """Report → order p99 within the limit, and a backlog that did not grow."""
        return (
            bool(self.to_order)
            and percentile(self.to_order, 99) <= ORDER_P99_LIMIT
            and self.backlog_bounded
        )

    @property
    def backlog_bounded(self) -> bool:
        third = len(self.backlog) // 3
        if third == 0:
            return True
        middle = statistics.fmean(self.backlog[third : 2 * third])
        last = statistics.fmean(self.backlog[2 * third :])
        return last <= 2 * middle + BACKLOG_SLACK


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def drain(
    step: Step, depths: Callable[[], dict[str, int]], inboxes: Callable[[str], bool]
) -> None:
    """The deepest of the chosen inboxes now (the step's last report was just sent), and how
    long until all of them are empty (None past DRAIN_TIMEOUT_SECONDS)."""
    began = time.perf_counter()
    while True:
        found = {q: d for q, d in (await asyncio.to_thread(depths)).items() if inboxes(q)}
        if step.deepest_inbox == ("", 0):
            step.deepest_inbox = max(found.items(), key=lambda kv: kv[1], default=("", 0))
        waited = time.perf_counter() - began
        if not any(found.values()):
            step.drained_after = waited
            return
        if waited > DRAIN_TIMEOUT_SECONDS:
            return
        await asyncio.sleep(0.5)


@asynccontextmanager
async def watch_backlog(
    step: Step, depths: Callable[[], dict[str, int]], inboxes: Callable[[str], bool]
) -> AsyncIterator[None]:
    """Sample the deepest of the chosen inboxes every second while the step sends."""

    async def sample() -> None:
        while True:
            found = await asyncio.to_thread(depths)
            step.backlog.append(max((d for q, d in found.items() if inboxes(q)), default=0))
            await asyncio.sleep(1.0)

    sampling = asyncio.create_task(sample())
    try:
        yield
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
