"""Lets messages be handled side by side, except one that must be handled alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class SoloGate:
    """Many `together()` holders at once, or one `alone()` holder and nobody else.

    A waiting `alone()` goes first: new `together()` callers wait behind it, so a message that
    must run alone is not starved by a steady stream of others.
    """

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._together = 0
        self._alone = False
        self._waiting_alone = 0

    @contextlib.asynccontextmanager
    async def together(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._together += 1
        try:
            yield
        finally:
            async with self._changed:
                self._together -= 1
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        async with self._changed:
            self._waiting_alone += 1
            try:
                await self._changed.wait_for(lambda: not self._alone and not self._together)
            finally:
                self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            async with self._changed:
                self._alone = False
                self._changed.notify_all()
