"""What a simulation does (how many reports, how fast, which shares) and where the city is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelMix(_Frozen):
    """Relative weights of the reporting channels (they need not add up to 1)."""

    native: float = Field(default=0.35, ge=0)
    chat_group: float = Field(default=0.25, ge=0)
    patrol: float = Field(default=0.15, ge=0)
    hotline: float = Field(default=0.15, ge=0)
    open311: float = Field(default=0.10, ge=0)

    def weights(self) -> dict[str, float]:
        return self.model_dump()


class Residents(_Frozen):
    """Shares of the reports that are not a plain new problem."""

    # A second resident reports a problem already reported (same category, a few metres away).
    duplicate: float = Field(default=0.05, ge=0, le=1)
    # Refused by intake with a 4xx (unknown grid, outside the city, no mention, bad key...).
    bad_input: float = Field(default=0.03, ge=0, le=1)
    # Sent again after its answer with the same Idempotency-Key (a client that lost the answer).
    retried: float = Field(default=0.05, ge=0, le=1)
    # Chat-group texts no keyword matches, hotline calls with no usable address: the center's
    # triage list.
    needs_triage: float = Field(default=0.02, ge=0, le=1)


class Departments(_Frozen):
    """How departments handle their orders; delays are shares of the order's own windows."""

    reject: float = Field(default=0.05, ge=0, le=1)
    # Accepted after accept-by: an acceptance breach.
    late_accept: float = Field(default=0.03, ge=0, le=1)
    # Completed after complete-by (the extension, if any, included): a completion breach.
    late_complete: float = Field(default=0.08, ge=0, le=1)
    progress: float = Field(default=0.4, ge=0, le=1)
    extension: float = Field(default=0.06, ge=0, le=1)
    # Replies sent over HTTP instead of AMQP.
    http_replies: float = Field(default=0.2, ge=0, le=1)


class Center(_Frozen):
    # Of the extension requests, the share the center refuses.
    refuse_extension: float = Field(default=0.3, ge=0, le=1)
    # Of the cases a village holds first (local-first categories), the share resolved there.
    resolve_locally: float = Field(default=0.6, ge=0, le=1)
    # How often the center looks at its lists (wall seconds).
    poll_seconds: float = Field(default=0.5, gt=0)


class Reporters(_Frozen):
    unsatisfied: float = Field(default=0.1, ge=0, le=1)
    # City time between the completion notice and the reporter's verdict (seconds).
    feedback_delay_seconds: tuple[float, float] = (600.0, 5400.0)


class SimulationConfig(_Frozen):
    reports: int = Field(default=1_000, ge=0)
    # Open loop: reports per wall-clock second, whatever the answers take.
    rate: float = Field(default=10.0, gt=0)
    seed: int = 7
    # City seconds per wall second: 3600 plays an hour of city life each second. The system
    # must run with windows shrunk by the same factor (see `system_windows`).
    speed: float = Field(default=1.0, gt=0)
    # Only categories whose completion limit is at most this many hours (None: all of them).
    max_complete_hours: float | None = None
    # One-click notices the center sends to a village during the run (and one city-wide
    # chat-group notice when `city_notice` is set).
    broadcasts: int = Field(default=2, ge=0)
    city_notice: bool = False
    channels: ChannelMix = ChannelMix()
    residents: Residents = Residents()
    departments: Departments = Departments()
    center: Center = Center()
    reporters: Reporters = Reporters()

    @model_validator(mode="after")
    def _some_channel(self) -> SimulationConfig:
        if sum(self.channels.weights().values()) <= 0:
            raise ValueError("at least one channel needs a positive weight")
        return self

    def system_windows(self) -> dict[str, str]:
        """The settings that make the system's clocks run at this simulation's speed."""
        return {
            "SLA_ACCEPT_WINDOW_SECONDS": f"{28_800 / self.speed:g}",
            "COMPLETE_WITHIN_SCALE": f"{1 / self.speed:g}",
        }


class Targets(_Frozen):
    """Where the running city is and which credentials the simulated people hold."""

    intake: tuple[str, ...] = ("http://127.0.0.1:8001",)
    dispatch: tuple[str, ...] = ("http://127.0.0.1:8002",)
    scoring: tuple[str, ...] = ("http://127.0.0.1:8004",)
    notify: tuple[str, ...] = ("http://127.0.0.1:8005",)
    # The broker and virtual host; departments log in there with their own users.
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # The monitor's own account (default: the URL above).
    monitor_rabbitmq_url: str | None = None
    department_user_prefix: str = ""
    department_password_template: str = "dev-{code}"
    department_api_key_template: str = "dev-{code}"
    operator_api_key: str = "dev-operator-key"
    open311_api_key: str = "dev-open311-key"
    # The keys of the systems that post for the chat groups, the patrol app and the hotline.
    chat_group_api_key: str = DEVELOPMENT_CHANNEL_KEYS["chat-group"]
    patrol_api_key: str = DEVELOPMENT_CHANNEL_KEYS["patrol"]
    hotline_api_key: str = DEVELOPMENT_CHANNEL_KEYS["hotline"]
    # Where the simulated chat platform, SMS gateway and resident app listen for notify.
    sink_host: str = "127.0.0.1"
    sink_port: int = 8099

    @property
    def channel_api_keys(self) -> dict[str, str]:
        """By the simulator's channel names (those of `ChannelMix`)."""
        return {
            "chat_group": self.chat_group_api_key,
            "patrol": self.patrol_api_key,
            "hotline": self.hotline_api_key,
        }

    @property
    def sink_urls(self) -> dict[str, str]:
        """notify's settings that point its channels at this simulator."""
        base = f"http://{self.sink_host}:{self.sink_port}"
        return {
            "NOTIFY_CHAT_GROUP_WEBHOOK_URL": f"{base}/chat-group",
            "NOTIFY_SMS_GATEWAY_URL": f"{base}/sms",
            "NOTIFY_REPORTER_WEBHOOK_URL": f"{base}/resident-app",
        }
