"""A message ready to publish: envelope bytes plus where it goes. Stored as-is in outboxes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridloop_common.contracts.base import Message
from gridloop_common.envelope import CONTENT_TYPE, CloudEvent, new_event_id


@dataclass(frozen=True)
class Outgoing:
    """Serialized once, so a re-send after a crash carries byte-identical content and id."""

    message_id: str
    exchange: str
    routing_key: str
    body: bytes
    correlation_id: str | None = None
    content_type: str = CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "body": self.body.decode(),
            "correlation_id": self.correlation_id,
            "headers": dict(self.headers),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Outgoing:
        return cls(
            message_id=document["id"],
            exchange=document["exchange"],
            routing_key=document["routing_key"],
            body=document["body"].encode(),
            correlation_id=document.get("correlation_id"),
            headers=dict(document.get("headers") or {}),
        )


def envelope(
    message: Message,
    *,
    source: str,
    time: datetime,
    event_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Outgoing:
    """Wrap a contract in a CloudEvent addressed by the contract's own exchange and routing key."""
    event = CloudEvent(
        id=event_id or new_event_id(),
        source=source,
        type=message.TYPE,
        time=time,
        subject=message.subject(),
        correlationid=correlation_id,
        causationid=causation_id,
        data=message.model_dump(mode="json"),
    )
    return Outgoing(
        message_id=event.id,
        exchange=message.EXCHANGE,
        routing_key=message.routing_key(),
        body=event.to_json(),
        correlation_id=correlation_id,
    )
