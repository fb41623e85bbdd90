"""Secrets from `<NAME>_FILE`, and a production start that refuses the published ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET
from gridloop_common.settings import ServiceSettings, load_settings


class KeyedSettings(ServiceSettings):
    service_name: str = "intake"
    pseudonym_key: SecretStr = SecretStr("laptop-default-key")
    operator_api_key: SecretStr = SecretStr("")
    open311_api_keys: tuple[str, ...] = ()
    calendars: str = ""
    calendars_file: str = ""


CITY = {
    "RABBITMQ_URL": "amqp://intake:Xq7-city@broker:5672/",
    "PSEUDONYM_KEY": "a-city-pseudonym-key",
    "OPERATOR_API_KEY": "a-city-operator-key",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in KeyedSettings.model_fields:
        for name in (field.upper(), field.upper() + "_FILE"):
            monkeypatch.delenv(name, raising=False)


def _set(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def test_a_variable_comes_from_the_file_its_FILE_variable_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "operator_api_key"
    secret.write_text("from-a-mounted-secret\n", encoding="utf-8")
    monkeypatch.setenv("OPERATOR_API_KEY_FILE", str(secret))
    # One trailing newline (what `echo` writes) is not part of the secret.
    assert KeyedSettings().operator_api_key.get_secret_value() == "from-a-mounted-secret"


def test_a_file_feeds_fields_that_are_parsed_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "port"
    secret.write_text("9123", encoding="utf-8")
    monkeypatch.setenv("HTTP_PORT_FILE", str(secret))
    assert KeyedSettings().http_port == 9123


def test_a_setting_with_a_file_setting_of_its_own_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calendars = tmp_path / "calendars.json"
    calendars.write_text("{}", encoding="utf-8")
    monkeypatch.setenv("CALENDARS_FILE", str(calendars))
    settings = KeyedSettings()
    assert (settings.calendars, settings.calendars_file) == ("", str(calendars))


def test_setting_a_variable_and_its_file_at_once_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "key"
    secret.write_text("one", encoding="utf-8")
    monkeypatch.setenv("OPERATOR_API_KEY", "other")
    monkeypatch.setenv("OPERATOR_API_KEY_FILE", str(secret))
    with pytest.raises(SystemExit):
        load_settings(KeyedSettings)
    assert "OPERATOR_API_KEY and OPERATOR_API_KEY_FILE are both set" in capsys.readouterr().err


def test_an_empty_variable_beside_its_file_gives_way_to_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-the-file\n", encoding="utf-8")
    monkeypatch.setenv("OPERATOR_API_KEY", "")
    monkeypatch.setenv("OPERATOR_API_KEY_FILE", str(secret))
    assert load_settings(KeyedSettings).operator_api_key.get_secret_value() == "from-the-file"


def test_an_unreadable_file_is_named_without_its_content(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("PSEUDONYM_KEY_FILE", str(missing))
    with pytest.raises(SystemExit) as exit_info:
        load_settings(KeyedSettings)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert f"PSEUDONYM_KEY_FILE: cannot read {missing}" in message


def test_development_accepts_the_published_secrets() -> None:
    settings = KeyedSettings()
    assert settings.gridloop_environment == "development"
    assert settings.pseudonym_key.get_secret_value() == "laptop-default-key"


def test_production_starts_with_the_citys_own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, {**CITY, "GRIDLOOP_ENVIRONMENT": "production"})
    assert load_settings(KeyedSettings).gridloop_environment == "production"


@pytest.mark.parametrize(
    ("variable", "published"),
    [
        ("PSEUDONYM_KEY", None),  # left at the field's development default
        ("RABBITMQ_URL", "amqp://guest:guest@broker:5672/"),
        ("RABBITMQ_URL", "amqp://gridloop-intake:dev-intake@rabbitmq:5672/"),  # compose's
        ("MONGODB_URL", "mongodb://gridloop-notify:dev-notify-db@mongo:27017/?authSource=admin"),
        ("OPERATOR_API_KEY", "dev-operator-key"),
        ("OPEN311_API_KEYS", '["city-key", "dev-open311-key"]'),
        ("PSEUDONYM_KEY", DEVELOPMENT_SECRET),
    ],
)
def test_production_refuses_every_published_secret_and_names_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    published: str | None,
) -> None:
    _set(monkeypatch, {**CITY, "GRIDLOOP_ENVIRONMENT": "production"})
    if published is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, published)
    with pytest.raises(SystemExit) as exit_info:
        load_settings(KeyedSettings)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "production refuses the development value of" in message
    assert variable in message
    assert "Xq7-city" not in message and (published is None or published not in message)
