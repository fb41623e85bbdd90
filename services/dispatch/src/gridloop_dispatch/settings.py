"""dispatch's settings: the shared ones with dispatch's defaults."""

from __future__ import annotations

from pydantic import Field

from gridloop_common.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    service_name: str = "dispatch"
    http_port: int = Field(default=8002, ge=1, le=65535)
    # The seed's rule: a department accepts an order within 8 hours. One setting, read by every
    # service that computes or shows accept-by.
    sla_accept_window_seconds: float = Field(default=28_800, gt=0)
