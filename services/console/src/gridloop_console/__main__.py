"""`gridloop-console`: serve the operations console."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_console.app import create_app
from gridloop_console.settings import ConsoleSettings


def main() -> None:
    run_service(ConsoleSettings, create_app)


if __name__ == "__main__":
    main()
