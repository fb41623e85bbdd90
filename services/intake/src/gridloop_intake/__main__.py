"""`gridloop-intake`: run the intake service."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_intake.app import create_app
from gridloop_intake.settings import IntakeSettings


def main() -> None:
    run_service(IntakeSettings, create_app)


if __name__ == "__main__":
    main()
