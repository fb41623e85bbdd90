"""Secrets in settings: read from `<NAME>_FILE`, and refused in production when they are public.

`<NAME>_FILE=/run/secrets/x` sets the variable `<NAME>` to the file's content (one trailing
newline dropped), the convention of Docker's official images: a secret mounted by compose or
Kubernetes never has to sit in the environment, where `docker inspect` and child processes see
it. Setting both `<NAME>` and `<NAME>_FILE` is refused: which one wins would be a guess.

`GRIDLOOP_ENVIRONMENT=production` refuses at start-up every secret this repository publishes:
the settings' own development defaults, the keys `make up` and compose fall back to, and the
broker's `guest` account. A city that forgot one secret gets an error naming it, not a system
anyone who read the README can call as its operator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEYS
from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET
from gridloop_common.services import SERVICES

FILE_SUFFIX = "_FILE"

# Published in this repository (devstack's defaults, compose's fallbacks, the department
# templates): fine on a laptop, never in a city. A secret field's own default is refused too.
PUBLISHED_SECRETS = frozenset(
    {
        DEVELOPMENT_SECRET,
        "dev-operator-key",
        "dev-viewer-key",
        "dev-mongo-password",
        "dev-open311-key",
        "dev-{code}",
        "guest",
        *DEVELOPMENT_CHANNEL_KEYS.values(),
        # make up's and compose's broker and database passwords of each service's own user.
        *(f"dev-{service}" for service in SERVICES),
        *(f"dev-{service}-db" for service in SERVICES),
    }
)


class SecretFileError(ValueError):
    """A `<NAME>_FILE` variable that cannot be used; the message names it."""


class SecretFilesSource(PydanticBaseSettingsSource):
    """Each field `name` may come from the file named by the variable `NAME_FILE`."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._environment = {key.upper(): value for key, value in os.environ.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = field_name.upper()
        path = self._environment.get(name + FILE_SUFFIX)
        if not path:
            return None, field_name, False
        # An empty NAME is as good as unset: a compose override can blank the base file's value.
        if self._environment.get(name):
            raise SecretFileError(f"{name} and {name}{FILE_SUFFIX} are both set; keep one")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            # The path is no secret, the content would be: only the path is named.
            raise SecretFileError(
                f"{name}{FILE_SUFFIX}: cannot read {path} ({error.strerror})"
            ) from None
        return text.removesuffix("\n"), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        fields = self.settings_cls.model_fields
        for field_name, field in fields.items():
            if f"{field_name}_file" in fields:
                continue  # a setting with a file of its own (SLA_CALENDARS_FILE): its rules
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


def published_secrets_in(settings: BaseModel) -> list[str]:
    """The variables of `settings` that hold a published development secret."""
    found = []
    for field_name, field in type(settings).model_fields.items():
        value = getattr(settings, field_name)
        if _is_published(value) or (
            isinstance(value, SecretStr)
            and value.get_secret_value()
            and value == field.default  # a secret left at its development default
        ):
            found.append(field_name.upper())
    return found


def _is_published(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, tuple):
        return any(_is_published(item) for item in value)
    if not isinstance(value, str):
        return False
    if value in PUBLISHED_SECRETS:
        return True
    if "://" in value:
        password = urlsplit(value).password
        return password is not None and password in PUBLISHED_SECRETS
    return False
