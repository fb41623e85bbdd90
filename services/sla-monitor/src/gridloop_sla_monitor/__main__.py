"""`gridloop-sla-monitor`: run the sla-monitor service."""

from __future__ import annotations

from gridloop_common.serve import run_service
from gridloop_sla_monitor.app import create_app
from gridloop_sla_monitor.settings import SlaMonitorSettings


def main() -> None:
    run_service(SlaMonitorSettings, create_app)


if __name__ == "__main__":
    main()
