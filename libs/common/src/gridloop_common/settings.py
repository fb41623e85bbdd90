"""Settings shared by every service, read from the environment and validated at start-up."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gridloop_common.secrets import SecretFileError, SecretFilesSource, published_secrets_in


class ServiceSettings(BaseSettings):
    """Environment names are the field names in upper case (`RABBITMQ_URL`, `HTTP_PORT`, ...);
    any of them may instead come from a file named by `<NAME>_FILE` (gridloop_common.secrets)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    # `production` refuses, at start-up, every development secret this repository publishes.
    gridloop_environment: Literal["development", "production"] = "development"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # retryWrites=false: MongoDB-wire stand-ins and standalone servers have no retryable writes.
    mongodb_url: str = "mongodb://127.0.0.1:27017/?retryWrites=false"
    # How long a database operation waits for a reachable server before failing (then 503).
    mongodb_timeout_ms: int = Field(default=5_000, ge=100)
    # Empty means `gridloop_<service>`; a service owns its database and no other reads it.
    mongodb_database: str = ""
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # How many messages one replica handles at once; see docs/messaging.md for the trade-off.
    prefetch: int = Field(default=64, ge=1, le=5000)
    # Back-off before each retry of a failed message; once spent, the message is parked.
    retry_delays_ms: Annotated[tuple[int, ...], NoDecode] = (1_000, 5_000, 30_000)
    # A message that kills its consumer this many times is parked: counted by the consumer's
    # crash journal, and set as the quorum inbox's x-delivery-limit (the broker's backstop).
    delivery_limit: int = Field(default=10, ge=2)
    # A message that overtook one it depends on waits this long, without spending attempts,
    # before its attempts count (then the handler decides without the earlier one).
    wait_for_earlier_seconds: float = Field(default=300.0, ge=0)
    outbox_sweep_interval_seconds: float = Field(default=1.0, gt=0)
    # A pending outbox entry younger than this belongs to the replica that just wrote it.
    outbox_grace_seconds: float = Field(default=2.0, ge=0)
    # Test-only fault injection: the named point SIGKILLs the process (see docs/testing.md).
    gridloop_fault_point: str = ""
    # Test-only: a message containing this text kills its consumer on every delivery.
    gridloop_fault_poison: str = ""
    # Test-only: the handler of a message containing this text raises (retried, then parked).
    gridloop_fault_raise: str = ""

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(int(p) for p in parts)
        return value

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive_delays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d <= 0 for d in value):
            raise ValueError("every retry delay must be a positive number of milliseconds")
        return value

    @model_validator(mode="after")
    def _no_published_secrets_in_production(self) -> Self:
        if self.gridloop_environment == "production":
            published = published_secrets_in(self)
            if published:
                raise ValueError(
                    "GRIDLOOP_ENVIRONMENT=production refuses the development value of "
                    f"{', '.join(published)}; set your own (or <NAME>_FILE)"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The files first: NAME and NAME_FILE both set is refused, and an empty NAME beside a
        # NAME_FILE (a compose override blanking the base file's value) yields the file's.
        return (init_settings, SecretFilesSource(settings_cls), env_settings, dotenv_settings)

    @property
    def database_name(self) -> str:
        return self.mongodb_database or f"gridloop_{self.service_name.replace('-', '_')}"


class StaffKeySettings(ServiceSettings):
    """A service with routes for the city's staff (gridloop_common.api_keys)."""

    # The operator's key (X-Api-Key) for every staff route. Empty: those routes answer 503.
    operator_api_key: SecretStr = SecretStr("")
    # The read-only viewer's key: reads what the operator reads, acts on nothing. Empty: none.
    viewer_api_key: SecretStr = SecretStr("")


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Read settings from the environment; on error, name every bad variable and exit."""
    lines = [f"invalid configuration for {settings_class.__name__}:"]
    try:
        return settings_class()
    except SecretFileError as error:
        lines.append(f"  {error}")
    except ValidationError as error:
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            # The bad value is not echoed: it may be a password or a URL carrying a token.
            lines.append(f"  {name}: {problem['msg']}" if name else f"  {problem['msg']}")
    sys.stderr.write("\n".join(lines) + "\n")
    raise SystemExit(2) from None
