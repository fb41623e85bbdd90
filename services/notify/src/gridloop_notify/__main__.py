"""`gridloop-notify`: run the notify service."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_notify.app import create_app
from gridloop_notify.settings import NotifySettings


def main() -> None:
    run_service(NotifySettings, create_app)


if __name__ == "__main__":
    main()
