"""Shared settings: environment parsing, defaults, and start-up errors that name the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridloop_common.settings import ServiceSettings, load_settings


class DemoSettings(ServiceSettings):
    service_name: str = "sla-monitor"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The integration harness exports RABBITMQ_URL and friends; these tests own the environment.
    for field in ServiceSettings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
        monkeypatch.delenv(field, raising=False)


def test_defaults_point_at_local_infrastructure() -> None:
    settings = DemoSettings()
    assert settings.rabbitmq_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.mongodb_url.endswith("retryWrites=false")
    assert settings.retry_delays_ms == (1_000, 5_000, 30_000)
    assert settings.database_name == "gridloop_sla_monitor"


def test_database_name_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_DATABASE", "gridloop_test_7")
    assert DemoSettings().database_name == "gridloop_test_7"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("100,200", (100, 200)), (" 100 , 200 ,", (100, 200)), ("250", (250,))],
)
def test_retry_delays_parse_from_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch, raw: str, parsed: tuple[int, ...]
) -> None:
    monkeypatch.setenv("RETRY_DELAYS_MS", raw)
    assert DemoSettings().retry_delays_ms == parsed


def test_environment_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_port", "9100")
    monkeypatch.setenv("Log_Level", "DEBUG")
    settings = DemoSettings()
    assert settings.http_port == 9100
    assert settings.log_level == "DEBUG"


def test_unknown_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLOOP_SOMETHING_ELSE", "x")
    assert DemoSettings().http_port == 8000


def test_settings_are_frozen() -> None:
    settings = DemoSettings()
    with pytest.raises(ValidationError):
        settings.http_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RETRY_DELAYS_MS", "100,abc"),
        ("RETRY_DELAYS_MS", "100,0"),
        ("RETRY_DELAYS_MS", "-5"),
        ("HTTP_PORT", "70000"),
        ("HTTP_PORT", "eighty"),
        ("LOG_LEVEL", "VERBOSE"),
        ("LOG_FORMAT", "xml"),
        ("PREFETCH", "0"),
        ("DELIVERY_LIMIT", "0"),
        ("OUTBOX_SWEEP_INTERVAL_SECONDS", "0"),
    ],
)
def test_bad_value_exits_with_a_message_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        load_settings(DemoSettings)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "invalid configuration for DemoSettings" in message
    assert f"  {variable}: " in message, f"{variable} not named in: {message!r}"


def test_bad_value_is_not_echoed_because_it_may_be_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTP_PORT", "token-s3cr3t")
    with pytest.raises(SystemExit):
        load_settings(DemoSettings)
    message = capsys.readouterr().err
    assert "HTTP_PORT" in message
    assert "s3cr3t" not in message


def test_every_bad_variable_is_named_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTP_PORT", "0")
    monkeypatch.setenv("RETRY_DELAYS_MS", "x")
    with pytest.raises(SystemExit):
        load_settings(DemoSettings)
    message = capsys.readouterr().err
    assert "HTTP_PORT" in message
    assert "RETRY_DELAYS_MS" in message


def test_load_settings_returns_the_validated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRY_DELAYS_MS", "100,200")
    settings = load_settings(DemoSettings)
    assert isinstance(settings, DemoSettings)
    assert settings.retry_delays_ms == (100, 200)
