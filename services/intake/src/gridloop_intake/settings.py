"""intake's settings: the shared ones with intake's defaults, body limit, keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from gridloop_common.api_keys import KeyedChannel
from gridloop_common.reporter_tokens import DEVELOPMENT_SECRET
from gridloop_common.settings import StaffKeySettings
from gridloop_intake.rate_limits import valid_limits

DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key"


class IntakeSettings(StaffKeySettings):
    # OPERATOR_API_KEY: the center's key for erasing a reporter's contact data.
    service_name: str = "intake"
    http_port: int = Field(default=8001, ge=1, le=65535)
    # Larger bodies are refused with 413 before they are read.
    intake_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Keyed hash of reporters' phone numbers; production sets a secret, rotating it re-keys.
    intake_pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    # Shared with dispatch and notify: the reporter's token in the 202 answer is derived with it
    # (gridloop_common.reporter_tokens).
    reporter_token_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # The key of the one system that posts for each channel (X-Api-Key): the chat platform's
    # bridge, the grid workers' patrol app, the 12345 hotline. Empty: that channel is off (503).
    intake_chat_group_api_key: SecretStr = SecretStr("")
    intake_patrol_api_key: SecretStr = SecretStr("")
    intake_hotline_api_key: SecretStr = SecretStr("")
    # Open311 clients' API keys, comma-separated (make up: the development key dev-open311-key).
    gridloop_open311_api_keys: Annotated[tuple[str, ...], NoDecode] = ()

    # Public intake (native reports, Open311 posts, a reporter's read of a report): per client
    # address, or per Open311 key when a valid one is sent (`limits` notation, `;` between
    # windows); empty turns a limit off. Per replica (gridloop_intake.rate_limits).
    intake_rate_limit_per_address: str = "60/minute;600/hour"
    intake_rate_limit_per_key: str = "600/minute"
    # Open311 keys no limit applies to: the city's own simulator or load tests.
    intake_rate_limit_exempt_keys: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("intake_rate_limit_per_address", "intake_rate_limit_per_key")
    @classmethod
    def _known_notation(cls, value: str) -> str:
        return valid_limits(value)

    @field_validator("gridloop_open311_api_keys", "intake_rate_limit_exempt_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    def channel_api_key(self, channel: KeyedChannel) -> SecretStr:
        keys: dict[KeyedChannel, SecretStr] = {
            "chat-group": self.intake_chat_group_api_key,
            "patrol": self.intake_patrol_api_key,
            "hotline": self.intake_hotline_api_key,
        }
        return keys[channel]
