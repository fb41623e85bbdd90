"""The console's settings: the shared ones, the staff keys, and where the other services are."""

from __future__ import annotations

from pydantic import Field

from gridloop_common.settings import StaffKeySettings


class ConsoleSettings(StaffKeySettings):
    service_name: str = "console"
    http_port: int = Field(default=8000, ge=1, le=65535)
    # A session lasts this long after sign-in; then the key is asked for again.
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    # Send the session cookie over HTTPS only. Off by default for `make up` on localhost; a
    # city serving the console behind TLS turns it on.
    session_cookie_secure: bool = False
    # The language of a page whose visitor has not chosen one: Chinese, as the center works.
    default_language: str = Field(default="zh", pattern="^(zh|en)$")
    # Where the services are whose APIs the console calls (rankings, notices, actions, and
    # every service's parked messages).
    intake_url: str = "http://127.0.0.1:8001"
    dispatch_url: str = "http://127.0.0.1:8002"
    sla_monitor_url: str = "http://127.0.0.1:8003"
    scoring_url: str = "http://127.0.0.1:8004"
    notify_url: str = "http://127.0.0.1:8005"
    # How many open cases the board lists (the counts cover all of them).
    board_limit: int = Field(default=200, ge=1, le=5_000)
