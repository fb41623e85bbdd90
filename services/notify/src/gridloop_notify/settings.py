"""notify's settings: the shared ones with notify's defaults and its delivery channels."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from gridloop_common.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    http_port: int = Field(default=8005, ge=1, le=65535)
    # Where reporter notices are POSTed. Empty: each notice is still recorded (status `skipped`)
    # but sent nowhere, so a deployment without a reporter channel loses no history.
    notify_reporter_webhook_url: str = ""
    # Hard cap on one webhook call (connect + send + answer); a slower receiver counts as failed.
    notify_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("notify_reporter_webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an absolute http:// or https:// URL, or empty")
        return value
