"""Test-only crash points: `GRIDLOOP_FAULT_POINT=<name>` makes the process SIGKILL itself there.

Integration tests use it to prove that a crash between two steps loses nothing. Unset in
production, where `crash_point` is a string comparison and nothing else.

`GRIDLOOP_FAULT_POISON=<text>` makes a consumer SIGKILL its process whenever it is about to
handle a message whose body contains the text: the fault suite's message that kills its
consumer on every delivery. Empty in production.
"""

from __future__ import annotations

import os
import signal


def crash_point(configured: str, name: str) -> None:
    if configured and configured == name:
        os.kill(os.getpid(), signal.SIGKILL)


def crash_on_poison(marker: str, body: bytes) -> None:
    if marker and marker.encode() in body:
        os.kill(os.getpid(), signal.SIGKILL)
