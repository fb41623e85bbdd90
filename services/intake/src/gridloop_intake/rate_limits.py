"""Rate limits of public intake: per client address, or per client key when a valid one is given.

A resident's app or a civic Open311 client posts from many addresses under one key, so a
request with a valid Open311 key counts against the key's budget; anything else counts against
the address the server sees (behind a reverse proxy, run uvicorn with `--proxy-headers` and
`FORWARDED_ALLOW_IPS` so that is the client's). The city's own trusted clients (the simulator,
a load test) are exempt by key.

Windows are moving windows kept in this replica's memory (the `limits` library): with N replicas
behind a balancer a client gets up to N times the budget. That is the price of asking the
database nothing per request; the limits are against floods, not an exact quota.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimits:
    def __init__(self, per_address: str, per_key: str, exempt_keys: Iterable[str] = ()) -> None:
        """`per_address` and `per_key` in the `limits` notation (`60/minute;600/hour`); empty
        turns that limit off. A malformed one raises ValueError (at start-up, in settings)."""
        self._per_address = _parse(per_address)
        self._per_key = _parse(per_key)
        self._exempt = frozenset(exempt_keys)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait_seconds(self, *, address: str, key: str | None) -> int:
        """0 if the request may go ahead (and it is counted), else the whole seconds to wait."""
        if key is not None and key in self._exempt:
            return 0
        items, who = (self._per_key, "key:" + key) if key else (self._per_address, "ip:" + address)
        # Test every window before counting in any, so a refused request spends nothing.
        full = [item for item in items if not self._limiter.test(item, who)]
        if full:
            reset = max(self._limiter.get_window_stats(item, who).reset_time for item in full)
            return max(1, math.ceil(reset - time.time()))
        for item in items:
            self._limiter.hit(item, who)
        return 0


def _parse(limits: str) -> list[RateLimitItem]:
    return parse_many(limits) if limits.strip() else []


def valid_limits(limits: str) -> str:
    """For settings validation: the notation unchanged, or ValueError saying what is wrong."""
    _parse(limits)
    return limits
