"""Base classes for contracts: frozen models that only ever gain optional fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from gridloop_common.clock import ensure_utc

EVENTS_EXCHANGE = "gridloop.events"
ORDERS_EXCHANGE = "gridloop.orders"
REPLIES_EXCHANGE = "gridloop.replies"

UtcDatetime = Annotated[datetime, AfterValidator(ensure_utc)]


class Message(BaseModel):
    """A contract carried as CloudEvent `data`. TYPE is its CloudEvent `type`, versioned."""

    # Incoming messages may carry fields a newer producer added: tolerate, do not fail.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    EXCHANGE: ClassVar[str]
    # The binding a consuming service uses to receive every message of this type.
    BINDING: ClassVar[str]

    def routing_key(self) -> str:
        raise NotImplementedError

    def subject(self) -> str | None:
        """The CloudEvent subject: the case id where there is one."""
        return getattr(self, "case_id", None)


class Event(Message):
    """Something that happened; published on gridloop.events."""

    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE
