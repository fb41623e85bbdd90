"""The services of gridloop by name: the module that runs each and its default HTTP port."""

from __future__ import annotations

SERVICES: dict[str, tuple[str, int]] = {
    "intake": ("gridloop_intake", 8001),
    "dispatch": ("gridloop_dispatch", 8002),
    "sla-monitor": ("gridloop_sla_monitor", 8003),
    "scoring": ("gridloop_scoring", 8004),
    "notify": ("gridloop_notify", 8005),
    "console": ("gridloop_console", 8000),
}


def service_url_variable(service: str) -> str:
    """The variable that tells the other services where this one is: SCORING_URL, SLA_MONITOR_URL.

    The console calls scoring's, notify's and dispatch's APIs; `make up`, the test harness and
    the fault suite set one for every service they start.
    """
    return f"{service.upper().replace('-', '_')}_URL"
