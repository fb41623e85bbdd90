"""intake's settings: the shared ones with intake's defaults."""

from __future__ import annotations

from pydantic import Field

from gridloop_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = Field(default=8001, ge=1, le=65535)
