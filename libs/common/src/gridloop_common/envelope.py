"""CloudEvents 1.0 structured-mode envelope carried by every gridloop message."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gridloop_common.clock import ensure_utc

CONTENT_TYPE = "application/cloudevents+json"


def new_event_id() -> str:
    return str(uuid.uuid4())


def derived_id(namespace: str, *parts: str) -> str:
    """A stable id from stable inputs: a redelivered message derives the same id again."""
    # JSON-encoded so that ("a:b", "c") and ("a", "b:c") cannot collide.
    name = json.dumps(["gridloop", namespace, *parts], ensure_ascii=False)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


class CloudEvent(BaseModel):
    """The wire envelope. Unknown extension attributes are tolerated and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    specversion: str = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    correlationid: str | None = None
    causationid: str | None = None
    data: dict[str, Any]

    @field_validator("specversion")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if value != "1.0":
            raise ValueError("only CloudEvents specversion 1.0 is understood")
        return value

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return ensure_utc(value)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()
