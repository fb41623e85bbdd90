"""`gridloop-scoring`: run the scoring service."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_scoring.app import create_app
from gridloop_scoring.settings import ScoringSettings


def main() -> None:
    run_service(ScoringSettings, create_app)


if __name__ == "__main__":
    main()
