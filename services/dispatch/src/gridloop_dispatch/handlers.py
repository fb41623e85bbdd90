"""How dispatch reacts to messages: a report opens a case; department replies move orders."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.contracts import (
    AcceptOrder,
    CompleteOrder,
    OrderReply,
    RejectOrder,
    ReportProgress,
    ReportReceived,
    RequestExtension,
)
from gridloop_common.messaging import Delivery, NotYet, PermanentError
from gridloop_dispatch.lifecycle import Refusal
from gridloop_dispatch.service import Cause, DispatchService

log = structlog.stdlib.get_logger("gridloop.dispatch")


class EarlyReply(NotYet):
    """A reply that an earlier one still in flight (its accept) may yet make legal.

    Replies are handled concurrently, so a department's `complete` can overtake its own
    `accept`. Raised as an ordinary failure, it goes through the retry tiers and is parked
    with its reason only if it is still illegal after the last one.
    """


@dataclass(frozen=True)
class DispatchHandlers:
    service: DispatchService

    async def on_report_received(self, report: ReportReceived, delivery: Delivery) -> None:
        opened = await self.service.open_from_report(report, _cause(delivery))
        if opened is None:
            log.info("case_already_open", report_id=report.report_id)

    async def on_accept(self, reply: AcceptOrder, delivery: Delivery) -> None:
        await self._reply(reply, delivery)

    async def on_reject(self, reply: RejectOrder, delivery: Delivery) -> None:
        await self._reply(reply, delivery)

    async def on_progress(self, reply: ReportProgress, delivery: Delivery) -> None:
        await self._reply(reply, delivery)

    async def on_complete(self, reply: CompleteOrder, delivery: Delivery) -> None:
        await self._reply(reply, delivery)

    async def on_request_extension(self, reply: RequestExtension, delivery: Delivery) -> None:
        await self._reply(reply, delivery)

    async def _reply(self, reply: OrderReply, delivery: Delivery) -> None:
        # The broker vouches for the routing key (topic permissions), never for the body.
        sender, _, action = delivery.routing_key.partition(".")
        if action != reply.ACTION:
            raise PermanentError(
                f"routing key {delivery.routing_key!r} does not match a {reply.ACTION} reply"
            )
        if reply.department != sender:
            # A body passing for another unit: refused, not quietly taken as the sender's.
            raise PermanentError(
                f"the body names department {reply.department!r}, the routing key (which the "
                f"broker vouches for) {sender!r}"
            )
        result = await self.service.reply(reply, sender, _cause(delivery), via="amqp")
        if isinstance(result, Refusal):
            if _may_be_early(result):
                raise EarlyReply(result.reason)
            raise PermanentError(result.reason)
        if result.repeated:
            log.info("reply_already_applied", order_id=reply.order_id)


def _cause(delivery: Delivery) -> Cause:
    return Cause(delivery.event_id, delivery.event.correlationid)


def _may_be_early(refusal: Refusal) -> bool:
    not_yet_accepted = refusal.extra.get("current_status") == "dispatched"
    return refusal.code == "illegal_transition" and not_yet_accepted
