"""sla-monitor's settings: the shared ones, its defaults and the clock settings."""

from __future__ import annotations

from pydantic import Field

from gridloop_common.settings import ServiceSettings


class SlaMonitorSettings(ServiceSettings):
    service_name: str = "sla-monitor"
    http_port: int = Field(default=8003, ge=1, le=65535)
    # How often each replica looks for running clocks past their deadline; a breach is announced
    # at most about this long after it happens.
    sla_tick_seconds: float = Field(default=0.25, gt=0)
    # Due clocks claimed per scan; a full batch makes the next scan start at once.
    sla_scan_batch: int = Field(default=200, ge=1, le=10_000)
    # DESIGN.md: a department must accept within 8 hours. Dispatch stamps `accept_by` with the
    # same setting; sla-monitor trusts the stamped deadline and keeps this as the documented value.
    sla_accept_window_seconds: float = Field(default=28_800, gt=0)
