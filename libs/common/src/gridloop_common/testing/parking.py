"""Parking a message as the consumer does, for tests of what comes after (listing, replay)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aio_pika.abc import AbstractChannel

from gridloop_common.contracts import ReportReceived
from gridloop_common.messaging import Outgoing, Publisher, dead_queue, envelope
from gridloop_common.messaging.consumer import (
    ATTEMPT_HEADER,
    ORIGIN_EXCHANGE_HEADER,
    ORIGIN_ROUTING_KEY_HEADER,
    PARKED_AT_HEADER,
    REASON_HEADER,
)


async def park(
    channel: AbstractChannel, service: str, message: Outgoing, reason: str, attempts: int = 4
) -> None:
    """Into `<service>.dead` with what the consumer records: the reason, the moment, the
    attempt and where the message was first sent. `channel` publishes with confirms."""
    await Publisher(channel, app_id="test").publish(
        Outgoing(
            message_id=message.message_id,
            exchange="",
            routing_key=dead_queue(service),
            body=message.body,
            headers={
                REASON_HEADER: reason,
                PARKED_AT_HEADER: datetime.now(UTC).isoformat(),
                ATTEMPT_HEADER: str(attempts),
                ORIGIN_EXCHANGE_HEADER: message.exchange,
                ORIGIN_ROUTING_KEY_HEADER: message.routing_key,
            },
        )
    )


def road_damage_report(description: str, grid_id: str) -> tuple[ReportReceived, Outgoing]:
    """A road-damage report as intake publishes it, and its envelope (to publish or to park)."""
    report = ReportReceived(
        report_id=f"R-{uuid.uuid4().hex[:16]}",
        channel="native",
        grid_id=grid_id,
        category_code="road-damage",
        description=description,
        reported_at=datetime.now(UTC),
    )
    return report, envelope(report, source="test", time=datetime.now(UTC))
