"""dispatch's settings: the shared ones with dispatch's defaults, and the center's rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET
from gridloop_common.settings import StaffKeySettings


class DispatchSettings(StaffKeySettings):
    service_name: str = "dispatch"
    http_port: int = Field(default=8002, ge=1, le=65535)
    # The seed's rule: a department accepts an order within 8 hours. One setting, read by every
    # service that computes or shows accept-by.
    sla_accept_window_seconds: float = Field(default=28_800, gt=0)
    # Complete-by for an order whose category has no limit of its own (e.g. left unclassified).
    default_complete_within_hours: float = Field(default=72, gt=0)
    # Multiplies every completion limit (the category's and the default). 1 in a city; tests,
    # the fault suite and demos shrink hours to seconds with it, beside a short
    # SLA_ACCEPT_WINDOW_SECONDS (the city simulator prints both for its speed).
    complete_within_scale: float = Field(default=1.0, gt=0)
    # After this many rejections of the same share of a case, it goes to the fallback owner.
    fallback_after_rejections: int = Field(default=3, ge=1)
    # A case bounced (rejected) more than this many times is flagged.
    flag_after_bounces: int = Field(default=2, ge=0)
    # Unsatisfied feedback reopens a case at most this often; the next one closes it unsatisfied.
    max_reopens: int = Field(default=2, ge=0)
    # Categories a village or community tries to solve first: such cases wait for a village
    # operator to resolve them locally or escalate them (comma-separated catalogue codes).
    local_first_categories: Annotated[tuple[str, ...], NoDecode] = ("neighbour-dispute",)
    # How often a replica reloads the routing rules (its own changes apply at once).
    routing_rules_refresh_seconds: float = Field(default=5.0, gt=0)
    # Shared with intake and notify: a reporter's verdict needs the token derived from it
    # (gridloop_common.reporter_tokens).
    reporter_token_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Management API of the broker, for `provision-departments`; empty: RABBITMQ_URL's host on
    # port 15672 with RABBITMQ_URL's credentials.
    rabbitmq_management_url: SecretStr = SecretStr("")
    # Broker user of department <code> is <prefix><code> (tests use a unique prefix).
    department_user_prefix: str = ""
    # Department passwords for provisioning: a template such as `dev-{code}` (development), or a
    # JSON file {"<code>": "<password>"} mounted from a secret store (production).
    department_password_template: SecretStr = SecretStr("")
    department_passwords_file: str = ""
    # Department HTTP API keys (`<code>.<secret>`) for provisioning, likewise: template of the
    # secret, or a JSON file {"<code>": "<secret>"}. Stored hashed (scrypt).
    department_api_key_template: SecretStr = SecretStr("")
    department_api_keys_file: str = ""
    # Monitors given a broker user by provisioning (comma-separated names; user
    # <prefix>monitor-<name>), with passwords as for departments ({code} is the name).
    monitor_names: Annotated[tuple[str, ...], NoDecode] = ()
    monitor_password_template: SecretStr = SecretStr("")
    monitor_passwords_file: str = ""
    # The system's services given their own broker user by provisioning (comma-separated, or
    # `all`; user <prefix>gridloop-<service>), passwords as above ({code} is the service).
    broker_services: Annotated[tuple[str, ...], NoDecode] = ()
    service_password_template: SecretStr = SecretStr("")
    service_passwords_file: str = ""

    @field_validator("local_first_categories", "monitor_names", "broker_services", mode="before")
    @classmethod
    def _split_codes(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
