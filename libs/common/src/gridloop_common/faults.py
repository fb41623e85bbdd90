"""Test-only crash points: `GRIDLOOP_FAULT_POINT=<name>` makes the process SIGKILL itself there.

Integration tests use it to prove that a crash between two steps loses nothing. Unset in
production, where `crash_point` is a string comparison and nothing else.
"""

from __future__ import annotations

import os
import signal


def crash_point(configured: str, name: str) -> None:
    if configured and configured == name:
        os.kill(os.getpid(), signal.SIGKILL)
