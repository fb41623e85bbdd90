"""notify's settings: defaults, URL checks at start-up, rate limits, configured channels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridloop_notify.settings import NotifySettings

NOTIFY_VARIABLES = (
    "HTTP_PORT",
    "NOTIFY_REPORTER_WEBHOOK_URL",
    "NOTIFY_CHAT_GROUP_WEBHOOK_URL",
    "NOTIFY_SMS_GATEWAY_URL",
    "NOTIFY_SMTP_HOST",
    "NOTIFY_RATE_LIMITS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NOTIFY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_notify_on_port_8005_with_only_subscriber_webhooks() -> None:
    settings = NotifySettings()
    assert (settings.service_name, settings.http_port) == ("notify", 8005)
    assert settings.configured_channels() == {"webhook"}
    assert settings.notify_rate_limits["sms"] == 500


def test_channels_are_configured_by_their_urls_and_smtp_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFY_CHAT_GROUP_WEBHOOK_URL", "https://im.example/bot")
    monkeypatch.setenv("NOTIFY_SMS_GATEWAY_URL", "https://sms.example/send")
    monkeypatch.setenv("NOTIFY_SMTP_HOST", "mail.example")
    assert NotifySettings().configured_channels() == {"chat_group", "sms", "email", "webhook"}


@pytest.mark.parametrize("url", ["hooks.example/reporter", "ftp://hooks.example/x", "http://"])
def test_a_url_that_is_not_absolute_http_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotifySettings(notify_sms_gateway_url=url)
    assert "absolute http" in str(caught.value)


def test_rate_limits_are_read_per_channel_and_keep_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFY_RATE_LIMITS", "sms=50, email=0")
    rates = NotifySettings().notify_rate_limits
    assert (rates["sms"], rates["email"], rates["chat_group"]) == (50, 0, 200)


@pytest.mark.parametrize("value", ["fax=3", "sms", "sms=-1"])
def test_bad_rate_limits_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NOTIFY_RATE_LIMITS", value)
    with pytest.raises(ValidationError):
        NotifySettings()


def test_a_lease_must_outlast_two_flushes() -> None:
    with pytest.raises(ValidationError, match="NOTIFY_LEASE_SECONDS"):
        NotifySettings(notify_lease_seconds=1, notify_flush_seconds=0.5)
