"""`make demo`: `make up` plus the city simulator, so a newcomer watches a city live in the
console (http://127.0.0.1:8000, key dev-operator-key).

The system runs with its clocks shrunk by DEMO_SPEED (city seconds per second; default 120: the
8-hour acceptance window lasts four minutes, a morning passes in two), and the simulator plays
residents, departments and reporters at DEMO_RATE reports a second (default 1) until Ctrl-C,
which stops the simulator, then the system.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gridloop_common.services import SERVICES
from gridloop_simulator.config import SimulationConfig, Targets

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 180.0


def _say(text: str) -> None:
    sys.stdout.write(f"[demo] {text}\n")
    sys.stdout.flush()


def _wait_ready(system: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    waiting = {name: f"http://127.0.0.1:{port}/readyz" for name, (_, port) in SERVICES.items()}
    with httpx.Client(timeout=1.0) as client:
        while waiting:
            if system.poll() is not None:
                raise SystemExit("[demo] the system stopped before it was ready")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"[demo] not ready after {READY_TIMEOUT_SECONDS:.0f} s: {sorted(waiting)}"
                )
            for name, url in list(waiting.items()):
                try:
                    if client.get(url).status_code == 200:
                        del waiting[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)


def main() -> int:
    speed = float(os.environ.get("DEMO_SPEED", "120"))
    rate = float(os.environ.get("DEMO_RATE", "1"))
    config = SimulationConfig(speed=speed)
    # The simulator plays the chat platform, SMS gateway and resident app on the sink port.
    env = {**os.environ, **config.system_windows(), **Targets().sink_urls}
    _say(f"speed {speed:g} (windows {config.system_windows()}), {rate:g} reports a second")
    system = subprocess.Popen([sys.executable, str(ROOT / "tools" / "devstack.py")], env=env)
    simulator: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(system)
        _say("console: http://127.0.0.1:8000  (sign in with dev-operator-key; Ctrl-C stops)")
        simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gridloop_simulator",
                "--speed",
                f"{speed:g}",
                "--rate",
                f"{rate:g}",
                "--reports",
                os.environ.get("DEMO_REPORTS", "1000000"),
                "--broadcasts",
                "0",
            ]
        )
        while system.poll() is None and simulator.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
            simulator.wait(timeout=30)
        if system.poll() is None:
            system.send_signal(signal.SIGTERM)
            system.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
