"""HTTP as a city's clients make it: spread over a service's replicas, and patient.

A request that found nobody (connection refused or reset, a timeout) or a busy service (502,
503, 504) is sent again after a back-off, to the next replica, for up to `give_up_after`
seconds — the same bytes with the same Idempotency-Key, so a repeat can never create a second
thing. That is what a load balancer with retries in front of the replicas would do.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass
class Answer:
    response: httpx.Response | None
    attempts: int
    error: str | None = None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code


class ServiceClient:
    def __init__(
        self,
        name: str,
        base_urls: Sequence[str],
        client: httpx.AsyncClient,
        *,
        give_up_after: float = 180.0,
        seed: int = 0,
    ) -> None:
        if not base_urls:
            raise ValueError(f"no address for {name}")
        self.name = name
        self._urls = itertools.cycle([u.rstrip("/") for u in base_urls])
        self._client = client
        self._give_up_after = give_up_after
        self._rng = random.Random(seed)
        # When the service last answered at all (any status): what a fault's recovery is
        # measured by.
        self.last_answer_at: float | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        patient: bool = True,
    ) -> Answer:
        """The first real answer; with `patient`, retried through outages as described above."""
        deadline = time.monotonic() + (self._give_up_after if patient else 0)
        delay = 0.2
        attempts = 0
        error: str | None = None
        while True:
            attempts += 1
            url = f"{next(self._urls)}{path}"
            try:
                response = await self._client.request(
                    method, url, json=json, data=data, content=content, headers=headers
                )
            except httpx.TransportError as failure:
                error = f"{type(failure).__name__}"
            else:
                self.last_answer_at = time.time()
                if response.status_code not in RETRY_STATUSES or not patient:
                    return Answer(response, attempts)
                error = f"HTTP {response.status_code}"
                last = response
                if time.monotonic() + delay > deadline:
                    return Answer(last, attempts, error)
            if time.monotonic() + delay > deadline:
                return Answer(None, attempts, error)
            await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)
