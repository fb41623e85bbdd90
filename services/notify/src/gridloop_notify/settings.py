"""notify's settings: the shared ones with notify's defaults, its channels and delivery engine."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET
from gridloop_common.settings import StaffKeySettings

CHANNELS = ("chat_group", "sms", "email", "webhook")

# Sends per second per replica; a public SMS gateway or mail relay would throttle us anyway.
DEFAULT_RATE_LIMITS = {"chat_group": 200.0, "sms": 500.0, "email": 20.0, "webhook": 100.0}


def http_url(value: str) -> str:
    value = value.strip()
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL, or empty")
    return value


class NotifySettings(StaffKeySettings):
    service_name: str = "notify"
    http_port: int = Field(default=8005, ge=1, le=65535)

    # --- channels (empty URL / host: the channel is not configured) ---
    # Reporters who left no direct reply address (native API without contact, patrol reports)
    # hear through this webhook, e.g. the resident app's back end. Empty: recorded, not sent.
    notify_reporter_webhook_url: str = ""
    notify_reporter_webhook_secret: str = ""
    # One POST per chat group: {"group_id", "text", ...}; the group id is the registry's.
    notify_chat_group_webhook_url: str = ""
    notify_chat_group_webhook_secret: str = ""
    # One POST per text message: {"to", "text", ...}; households and hotline reporters.
    notify_sms_gateway_url: str = ""
    notify_sms_gateway_secret: str = ""
    notify_smtp_host: str = ""
    notify_smtp_port: int = Field(default=25, ge=1, le=65535)
    notify_smtp_username: str = ""
    notify_smtp_password: str = ""
    # "none", "starttls" (upgrade after connect) or "tls" (implicit TLS, usually port 465).
    notify_smtp_security: str = Field(default="none", pattern="^(none|starttls|tls)$")
    notify_mail_from: str = "gridloop notify <notify@gridloop.invalid>"
    # Where a resident's client reaches dispatch's API: feedback goes to
    # `<base>/v1/cases/<case id>/feedback`.
    notify_feedback_base_url: str = "http://127.0.0.1:8002"
    # Shared with intake and dispatch: the completion notice's feedback code is the reporter's
    # token derived with it (gridloop_common.reporter_tokens).
    reporter_token_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)

    # --- delivery engine ---
    # Hard cap on one send (connect + request + answer); slower counts as a transient failure.
    notify_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # `channel=per second,...`; 0 means unlimited. Per replica: N replicas send N times as fast.
    notify_rate_limits: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    # Sends in flight at once per channel and replica (also the HTTP connections per channel).
    notify_max_in_flight: int = Field(default=16, ge=1, le=512)
    # Attempts per recipient before it is recorded as failed with the last reason.
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    # Back-off before retry n: min(max, base * 2^(n-1)), scaled by a random factor in [0.5, 1).
    notify_retry_base_seconds: float = Field(default=5.0, gt=0)
    notify_retry_max_seconds: float = Field(default=600.0, gt=0)
    # Recipients per delivery batch: the unit one worker claims, stores and pages through.
    notify_batch_size: int = Field(default=100, ge=1, le=1000)
    # Batch workers per replica; each works one batch at a time.
    notify_workers: int = Field(default=8, ge=1, le=64)
    # A claimed batch or expansion stays with its worker this long without a heartbeat.
    notify_lease_seconds: float = Field(default=30.0, gt=0)
    # Outcomes are stored at least this often while a batch is being sent: after a crash, only
    # sends of the last interval can be repeated (with their same idempotency keys).
    notify_flush_seconds: float = Field(default=0.5, gt=0)
    # How often idle workers look for due batches when nothing woke them.
    notify_poll_seconds: float = Field(default=1.0, gt=0)

    @field_validator(
        "notify_reporter_webhook_url",
        "notify_chat_group_webhook_url",
        "notify_sms_gateway_url",
        "notify_feedback_base_url",
    )
    @classmethod
    def _http_urls(cls, value: str) -> str:
        return http_url(value)

    @field_validator("notify_rate_limits", mode="before")
    @classmethod
    def _parse_rates(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        rates = dict(DEFAULT_RATE_LIMITS)
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            name, sep, number = part.partition("=")
            if not sep:
                raise ValueError("write rate limits as channel=per_second, comma-separated")
            rates[name.strip()] = float(number)
        return rates

    @field_validator("notify_rate_limits")
    @classmethod
    def _known_rates(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; known: {list(CHANNELS)}")
        if any(rate < 0 for rate in value.values()):
            raise ValueError("a rate limit cannot be negative (0 means unlimited)")
        return {**DEFAULT_RATE_LIMITS, **value}

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> NotifySettings:
        # A batch's lease is renewed at every flush; a flush waits for no send, but a lease
        # shorter than one send would let a second worker take a batch from a live one.
        if self.notify_lease_seconds <= self.notify_flush_seconds * 2:
            raise ValueError("NOTIFY_LEASE_SECONDS must exceed twice NOTIFY_FLUSH_SECONDS")
        return self

    @property
    def feedback_base_url(self) -> str:
        return self.notify_feedback_base_url.rstrip("/")

    def configured_channels(self) -> frozenset[str]:
        """Channels a broadcast may use: those with somewhere to send to."""
        configured = {"webhook"}  # subscribers bring their own URLs
        if self.notify_chat_group_webhook_url:
            configured.add("chat_group")
        if self.notify_sms_gateway_url:
            configured.add("sms")
        if self.notify_smtp_host:
            configured.add("email")
        return frozenset(configured)
