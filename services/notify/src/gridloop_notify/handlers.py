"""How notify reacts to events: remember reporters, tell them, alert supervisors, commend."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseEvent,
    CaseFlagged,
    ReporterErased,
    ReportLinked,
    ReportReceived,
    ScoringPeriodClosed,
    SlaBreached,
    SlaWarning,
)
from gridloop_common.messaging import Delivery, NotYet
from gridloop_common.registry import Registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_notify import notices
from gridloop_notify.alerts import (
    AlertFacts,
    breach_facts,
    flagged_facts,
    matches,
    warning_facts,
)
from gridloop_notify.delivery import Segment
from gridloop_notify.erasure import ReplyAddressEraser
from gridloop_notify.notices import Endpoints, ReplyRecord
from gridloop_notify.repository import ReporterRepository, SubscriptionRepository
from gridloop_notify.service import NoticeService, subscriber

log = structlog.stdlib.get_logger("gridloop.notify")


class ReplyAddressUnknown(NotYet):
    """The case event overtook its report.received; retried until the record is there."""


@dataclass(frozen=True)
class NotifyHandlers:
    service: NoticeService
    reporters: ReporterRepository
    subscriptions: SubscriptionRepository
    registry: Registry
    endpoints: Endpoints
    feedback_base_url: str
    reporter_tokens: ReporterTokens
    configured_channels: frozenset[str]
    clock: Clock
    eraser: ReplyAddressEraser

    # --- reporters' reply addresses ---

    async def on_report_received(self, event: ReportReceived, delivery: Delivery) -> None:
        await self.reporters.remember(
            event.report_id, event.reporter_id, event.reply_to, None, self.clock.now()
        )

    async def on_reporter_erased(self, event: ReporterErased, delivery: Delivery) -> None:
        await self.eraser.erase(event.reporter_id)

    async def on_report_linked(self, event: ReportLinked, delivery: Delivery) -> None:
        # A duplicate's reporter hears what becomes of the report it was linked to.
        await self.reporters.remember(
            event.report_id, event.reporter_id, event.reply_to, event.linked_to, self.clock.now()
        )

    # --- reporter feedback ---

    async def on_case_accepted(self, event: CaseAccepted, delivery: Delivery) -> None:
        records = await self._reply_records(event, delivery)
        if records is None:
            return
        await self.service.submit_now(
            notices.accepted_notice(event, delivery.event_id, records, self.endpoints)
        )

    async def on_case_completed(self, event: CaseCompleted, delivery: Delivery) -> None:
        if not event.case_complete:
            log.info("reporter_notice_not_needed", reason="a cooperating unit's part")
            return
        records = await self._reply_records(event, delivery)
        if records is None:
            return
        draft = notices.completed_notice(
            event,
            delivery.event_id,
            records,
            self.endpoints,
            feedback_base_url=self.feedback_base_url,
            tokens=self.reporter_tokens,
        )
        if draft is not None:
            await self.service.submit_now(draft)

    async def on_case_closed(self, event: CaseClosed, delivery: Delivery) -> None:
        records = await self._reply_records(event, delivery)
        if records is None:
            return
        draft = notices.closed_notice(event, delivery.event_id, records, self.endpoints)
        await self.service.submit_now(draft)
        # The last word to the reporter is stored with its addresses: notify forgets them now.
        await self.reporters.forget(draft.report_ids)

    async def _reply_records(
        self, event: CaseEvent, delivery: Delivery
    ) -> list[ReplyRecord] | None:
        if event.report_id:
            found = await self.reporters.for_report(event.report_id)
            if found is not None:
                return found
            if not delivery.last_attempt:
                raise ReplyAddressUnknown(f"no report.received seen for {event.report_id} yet")
            log.warning("reply_address_unknown", report_id=event.report_id)
        if event.reporter_id is None and event.report_id is None:
            log.info("reporter_notice_not_needed", reason="no reporter")
            return None
        # Never saw the report: the reporter webhook (if any) is the only way left.
        return [ReplyRecord(event.report_id or event.case_id, event.reporter_id, None)]

    # --- supervisor alerts ---

    async def on_sla_warning(self, event: SlaWarning, delivery: Delivery) -> None:
        await self._alert(event, warning_facts(event), delivery)

    async def on_sla_breached(self, event: SlaBreached, delivery: Delivery) -> None:
        await self._alert(event, breach_facts(event), delivery)

    async def on_case_flagged(self, event: CaseFlagged, delivery: Delivery) -> None:
        await self._alert(event, flagged_facts(event), delivery)

    async def _alert(
        self, event: SlaWarning | SlaBreached | CaseFlagged, facts: AlertFacts, delivery: Delivery
    ) -> None:
        subscribers = [
            subscriber(subscription)
            for subscription in await self.subscriptions.for_event(facts.event)
            if matches(subscription.filters, facts)
        ]
        if not subscribers:
            log.debug("alert_not_subscribed", alert=facts.event, department=facts.department)
            return
        await self.service.submit_now(notices.alert_notice(event, delivery.event_id, subscribers))

    # --- the city ---

    async def on_period_closed(self, event: ScoringPeriodClosed, delivery: Delivery) -> None:
        segments: list[Segment] = []
        if "chat_group" in self.configured_channels:
            segments.append(Segment("chat_group", "chat_groups", len(self.registry.chat_groups)))
        listed = await self.service.notice_subscribers(frozenset({"email", "webhook"}), None)
        segments.extend(notices.subscriber_segments(listed))
        await self.service.submit_now(
            notices.commendation_notice(event, delivery.event_id, self.registry, tuple(segments))
        )
