"""Stopping asyncio tasks reliably on Python 3.11."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def cancel_and_wait(tasks: Sequence[asyncio.Task[Any]], *, every: float = 0.5) -> None:
    """Cancel the tasks and wait until each has ended, cancelling again while one runs on.

    On Python 3.11 `asyncio.wait_for` drops a cancel that arrives just as the awaited call
    completes (CPython gh-86296, fixed in 3.12); pymongo awaits socket writes through it. A
    `while True` loop whose cancel was dropped runs on, and a plain `gather` after one `cancel()`
    would wait for it for ever (seen in notify: a batch lease renewed without end).
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    for task in tasks:
        # Mark each outcome retrieved, so asyncio does not log "exception was never retrieved".
        if not task.cancelled():
            task.exception()
