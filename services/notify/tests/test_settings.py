"""notify's settings: its defaults and the start-up check of the webhook URL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridloop_notify.settings import NotifySettings


def test_defaults_are_notify_on_port_8005_with_no_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_REPORTER_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("HTTP_PORT", raising=False)
    settings = NotifySettings()
    assert (settings.service_name, settings.http_port) == ("notify", 8005)
    assert settings.notify_reporter_webhook_url == ""


def test_webhook_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_REPORTER_WEBHOOK_URL", "https://hooks.example/reporter")
    assert NotifySettings().notify_reporter_webhook_url == "https://hooks.example/reporter"


@pytest.mark.parametrize("url", ["hooks.example/reporter", "ftp://hooks.example/x", "http://"])
def test_a_webhook_url_that_is_not_absolute_http_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotifySettings(notify_reporter_webhook_url=url)
    assert "absolute http" in str(caught.value)
