"""`gridloop-dispatch`: run the dispatch service."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_dispatch.app import create_app
from gridloop_dispatch.settings import DispatchSettings


def main() -> None:
    run_service(DispatchSettings, create_app)


if __name__ == "__main__":
    main()
