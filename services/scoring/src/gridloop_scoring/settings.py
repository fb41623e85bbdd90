"""scoring's settings: the shared ones with scoring's defaults."""

from __future__ import annotations

from pydantic import Field

from gridloop_common.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = Field(default=8004, ge=1, le=65535)
