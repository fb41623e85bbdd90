"""Per-channel pacing: a token bucket (pure arithmetic) and the gate a send passes through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; a taker reserves a token and learns how
    long to wait for it, so concurrent takers queue in order instead of polling."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and room for one token")
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._updated = now

    def reserve(self, now: float) -> float:
        """Take one token; return the seconds until it is really there (0 if it already is)."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class ChannelGate:
    """At most `in_flight` sends at once, started no faster than `rate` a second (0: unpaced)."""

    def __init__(
        self,
        rate: float,
        in_flight: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        # A burst of a tenth of a second's worth keeps the pace smooth, never less than one.
        self._bucket = TokenBucket(rate, max(1.0, rate / 10), monotonic()) if rate > 0 else None
        self._slots = asyncio.Semaphore(in_flight)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            if self._bucket is not None:
                wait = self._bucket.reserve(self._monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
            yield
