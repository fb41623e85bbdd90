"""Test-only crash points: `GRIDLOOP_FAULT_POINT=<name>` makes the process SIGKILL itself there.

Integration tests use it to prove that a crash between two steps loses nothing. Unset in
production, where `crash_point` is a string comparison and nothing else.

`GRIDLOOP_FAULT_POISON=<text>` makes a consumer SIGKILL its process whenever it is about to
handle a message whose body contains the text: the fault suite's message that kills its
consumer on every delivery. `GRIDLOOP_FAULT_RAISE=<text>` makes the handler of such a message
raise instead (a bug in a handler, not in the message's shape: it goes through the retry tiers and
is parked). Empty in production.
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


class InjectedFault(RuntimeError):
    """What a handler raises for a message carrying `GRIDLOOP_FAULT_RAISE`'s text."""


def raise_on_poison(marker: str, body: bytes) -> None:
    if marker and marker.encode() in body:
        raise InjectedFault("the handler raised (test fault GRIDLOOP_FAULT_RAISE)")
