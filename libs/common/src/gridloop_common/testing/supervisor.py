"""Keeps processes running as compose's `restart: unless-stopped` does, for `make up` and the
fault suite: a process that dies is started again after a back-off, and says so; one stopped on
purpose stays stopped.

Synchronous and poll-driven (`poll()` from a loop or a task), so both the threaded launcher and
the asyncio fault suite can drive it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Waits before restarting a process that keeps dying; reset once it has run for a while.
BACKOFF_SECONDS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_AFTER_SECONDS = 30.0

Say = Callable[[str], None]


@dataclass
class Program:
    name: str
    command: Sequence[str]
    env: dict[str, str]
    # A log file, or None to copy the output to this process's stdout prefixed by the name.
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    wanted: bool = True
    restarts: int = 0
    failures_in_a_row: int = 0
    started_at: float = 0.0
    # Monotonic time before which it is not started again (back-off, or a fault's hold).
    not_before: float = 0.0
    starts: list[float] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(
        self,
        say: Say,
        *,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        healthy_after: float = HEALTHY_AFTER_SECONDS,
    ) -> None:
        self._say = say
        self._backoff = tuple(backoff)
        self._healthy_after = healthy_after
        self.programs: dict[str, Program] = {}
        self._width = 0

    def add(self, program: Program) -> Program:
        self.programs[program.name] = program
        self._width = max(self._width, len(program.name))
        return program

    def start(self, name: str) -> None:
        program = self.programs[name]
        program.wanted = True
        self._launch(program)

    def poll(self) -> None:
        """Notice exits and restart what is due; call every few hundred milliseconds."""
        now = time.monotonic()
        for program in self.programs.values():
            process = program.process
            if process is not None and process.poll() is not None:
                code = process.returncode
                program.process = None
                if not program.wanted:
                    continue
                ran = time.monotonic() - program.started_at
                program.failures_in_a_row = (
                    0 if ran >= self._healthy_after else program.failures_in_a_row
                )
                wait = self._backoff[min(program.failures_in_a_row, len(self._backoff) - 1)]
                program.failures_in_a_row += 1
                program.not_before = max(program.not_before, now + wait)
                self._say(
                    f"{program.name} exited with {_describe(code)}; restarting in "
                    f"{program.not_before - now:.0f} s"
                )
            if program.wanted and program.process is None and now >= program.not_before:
                program.restarts += 1
                self._launch(program)
                self._say(f"{program.name} restarted (restart {program.restarts})")

    def kill(self, name: str, *, hold_for: float = 0.0) -> None:
        """SIGKILL, as a crash; restarted by `poll` no sooner than `hold_for` seconds."""
        program = self.programs[name]
        program.not_before = time.monotonic() + hold_for
        if program.process is not None and program.process.poll() is None:
            program.process.kill()

    def stop(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM and wait: the clean shutdown; it stays stopped."""
        program = self.programs[name]
        program.wanted = False
        _terminate([program], timeout)

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM to every program at once, then wait for each (in reverse start order)."""
        programs = list(self.programs.values())[::-1]
        for program in programs:
            program.wanted = False
        _terminate(programs, timeout)

    def _launch(self, program: Program) -> None:
        output: IO[bytes] | int = (
            program.log_path.open("ab") if program.log_path is not None else subprocess.PIPE
        )
        program.process = subprocess.Popen(
            list(program.command),
            env=program.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C reaches the launcher only, which stops programs in order.
            start_new_session=True,
        )
        if program.log_path is not None:
            assert not isinstance(output, int)
            output.close()  # the child holds its own copy
        else:
            assert program.process.stdout is not None
            prefix = f"[{program.name:<{self._width}}]"
            threading.Thread(
                target=_pump, args=(prefix, program.process.stdout), daemon=True
            ).start()
        program.started_at = time.monotonic()
        program.starts.append(time.time())


def _terminate(programs: Sequence[Program], timeout: float) -> None:
    for program in programs:
        if program.process is not None and program.process.poll() is None:
            program.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for program in programs:
        if program.process is None:
            continue
        try:
            program.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            program.process.kill()
            program.process.wait()
        program.process = None


def _describe(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _pump(prefix: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{prefix} {line.decode(errors='replace')}")
        sys.stdout.flush()


def python_module(module: str) -> list[str]:
    """The command that runs a module with this interpreter (the workspace's environment)."""
    return [sys.executable, "-m", module]
