"""How dispatch reacts: a report opens a case; a department's acceptance moves its order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import AcceptOrder, ReportReceived
from gridloop_common.envelope import derived_id
from gridloop_common.faults import crash_point
from gridloop_common.messaging import Delivery, PermanentError, envelope
from gridloop_common.outbox import RelayNow
from gridloop_dispatch import cases
from gridloop_dispatch.repository import CaseRepository

log = structlog.stdlib.get_logger("gridloop.dispatch")


@dataclass(frozen=True)
class DispatchHandlers:
    repository: CaseRepository
    relay_now: RelayNow
    clock: Clock
    accept_window: timedelta
    fault_point: str = ""

    async def on_report_received(self, report: ReportReceived, delivery: Delivery) -> None:
        now = self.clock.now()
        opened = cases.open_case(report, now, self.accept_window)
        outgoing = [
            envelope(
                message,
                source=cases.SOURCE,
                time=now,
                event_id=message_id,
                correlation_id=delivery.event.correlationid or report.report_id,
                causation_id=delivery.event_id,
            )
            for message_id, message in opened.messages
        ]
        stored = await self.repository.insert_new(opened.document, outgoing, now)
        if not stored:
            log.info("case_already_open", case_id=opened.document["_id"])
            return
        crash_point(self.fault_point, "dispatch.after_case_stored")
        self.relay_now(self.repository.cases, opened.document["_id"])
        log.info("case_opened", case_id=opened.document["_id"], status=opened.document["status"])

    async def on_accept(self, reply: AcceptOrder, delivery: Delivery) -> None:
        # The broker vouches for the routing key's first word (topic permissions), not the body.
        sender = delivery.routing_key.split(".", 1)[0]
        case = await self.repository.find_by_order(reply.order_id)
        if case is None:
            raise PermanentError(f"unknown order {reply.order_id}")
        order = next(o for o in case["orders"] if o["order_id"] == reply.order_id)
        if order["department"] != sender:
            raise PermanentError(
                f"order {reply.order_id} belongs to {order['department']}, not {sender}"
            )
        if delivery.event_id in case.get("applied", []) or order["status"] != "dispatched":
            log.info("accept_ignored", order_id=reply.order_id, status=order["status"])
            return
        now = self.clock.now()
        event = cases.accepted_event(case, order, reply, now)
        outgoing = envelope(
            event,
            source=cases.SOURCE,
            time=now,
            event_id=derived_id("case-accepted", reply.order_id, delivery.event_id),
            correlation_id=delivery.event.correlationid or case.get("report_id"),
            causation_id=delivery.event_id,
        )
        moved = await self.repository.transition_order(
            case["_id"],
            reply.order_id,
            from_status="dispatched",
            to_status="accepted",
            message_id=delivery.event_id,
            order_fields={"accepted_at": event.accepted_at, "handler": reply.handler},
            case_fields={"status": "accepted"},
            history=cases.history_entry(now, "accepted", sender, reply.note),
            events=[outgoing],
            now=now,
        )
        if moved:
            self.relay_now(self.repository.cases, case["_id"])
            log.info("order_accepted", case_id=case["_id"], order_id=reply.order_id)
