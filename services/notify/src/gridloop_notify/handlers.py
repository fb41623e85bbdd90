"""How notify reacts to case events: the reporter hears that their case was accepted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import CaseAccepted
from gridloop_common.messaging import Delivery, PermanentError
from gridloop_notify.channels import Channel, DeliveryFailed
from gridloop_notify.notices import Notice, is_final_attempt, reporter_notice
from gridloop_notify.repository import DELIVERED, SETTLED, DeliveryRepository

log = structlog.stdlib.get_logger("gridloop.notify")


class DeliveryInProgress(Exception):
    """Another copy of the event holds the send lease; retry later and find the outcome."""


@dataclass(frozen=True)
class ReporterNoticeHandlers:
    deliveries: DeliveryRepository
    channel: Channel
    clock: Clock
    retry_delays_ms: Sequence[int]
    # Longer than one channel call can take, so a lease only expires when its holder died.
    lease: timedelta

    async def on_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        notice = reporter_notice(event, delivery.event_id)
        if notice is None:
            log.info("reporter_notice_not_needed", reason="no reporter")
            return
        await self.deliver(notice, delivery.attempt)

    async def deliver(self, notice: Notice, attempt: int) -> None:
        """Store, claim, send, settle: at most one successful send per notice."""
        bound = log.bind(notice_id=notice.notice_id, kind=notice.kind, channel=self.channel.name)
        now = self.clock.now()
        record = await self.deliveries.open(notice, self.channel.name, now)
        if record["status"] in SETTLED:
            bound.info("notice_already_settled", status=record["status"])
            return
        if not await self.deliveries.claim(notice.notice_id, now, now + self.lease):
            bound.info("notice_delivery_in_progress")
            raise DeliveryInProgress(f"notice {notice.notice_id} is being sent by another worker")
        try:
            receipt = await self.channel.send(notice)
        except DeliveryFailed as failure:
            final = failure.permanent or is_final_attempt(attempt, self.retry_delays_ms)
            await self.deliveries.record_failure(
                notice.notice_id, failure.reason, self.clock.now(), final=final
            )
            bound.warning(
                "notice_delivery_failed",
                reason=failure.reason,
                permanent=failure.permanent,
                attempt=attempt,
            )
            if failure.permanent:
                raise PermanentError(failure.reason) from failure
            # Re-raised so the shared consumer retries with back-off, then parks.
            raise
        except Exception as error:
            # A channel bug, not a receiver's answer: free the lease at once, still retry.
            await self.deliveries.record_failure(
                notice.notice_id,
                f"channel error: {type(error).__name__}",
                self.clock.now(),
                final=is_final_attempt(attempt, self.retry_delays_ms),
            )
            raise
        await self.deliveries.settle(notice.notice_id, receipt.status, self.clock.now())
        if receipt.status == DELIVERED:
            bound.info("notice_delivered", detail=receipt.detail, attempt=attempt)
        else:
            bound.info("notice_recorded_only", detail=receipt.detail)
