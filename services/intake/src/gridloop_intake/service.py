"""Accepting a submission: idempotency, duplicate linking, contact storage, durable outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import structlog

from gridloop_common.clock import Clock
from gridloop_common.contracts import Message, ReplyAddress, ReportLinked, ReportReceived
from gridloop_common.envelope import derived_id
from gridloop_common.idempotency import (
    IDEMPOTENCY_HEADER,
    KEY_REUSED,
    KEY_REUSED_DETAIL,
    id_for_key,
)
from gridloop_common.messaging import envelope
from gridloop_intake.contacts import reporter_id_for
from gridloop_intake.duplicates import duplicate_of, rule_for
from gridloop_intake.repository import NewReport, ReportRepository, StoredReport
from gridloop_intake.submission import Problem, Submission, SubmissionRejected

log = structlog.stdlib.get_logger("gridloop.intake")
SOURCE = "gridloop/intake"


@dataclass(frozen=True)
class Outcome:
    """What became of a submission; each channel renders it in its own response format."""

    report_id: str
    status: str  # "received" or "linked"
    linked_to: str | None
    grid_id: str
    category_code: str
    location_precision: str
    replayed: bool = False

    @classmethod
    def of(cls, report: NewReport | StoredReport, replayed: bool) -> Outcome:
        return cls(
            report_id=report.report_id,
            status="linked" if report.linked_to else "received",
            linked_to=report.linked_to,
            grid_id=report.grid_id,
            category_code=report.category_code,
            location_precision=report.location_precision,
            replayed=replayed,
        )


def new_report_id(scope: str, idempotency_key: str | None) -> str:
    if idempotency_key:
        # The same key on the same endpoint always names the same report, so a retry that
        # races the first attempt collides on the primary key instead of creating a second.
        return id_for_key("R-", "report", scope, idempotency_key, 16)
    return "R-" + uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class ReportService:
    reports: ReportRepository
    clock: Clock
    pseudonym_key: bytes

    async def submit(
        self,
        submission: Submission,
        *,
        scope: str,
        idempotency_key: str | None,
        request_fingerprint: str,
    ) -> Outcome:
        report_id = new_report_id(scope, idempotency_key)
        if idempotency_key:
            earlier = await self.replay(report_id, request_fingerprint)
            if earlier is not None:
                return earlier

        reporter_id = reporter_id_for(
            submission.contact, self.pseudonym_key, submission.external_ref or report_id
        )
        if not submission.contact.is_empty():
            await self.reports.remember_contact(reporter_id, submission.contact, self.clock.now())

        duplicate = await self._duplicate(submission)
        now = self.clock.now()
        report = NewReport(submission, report_id, reporter_id, request_fingerprint)
        message: Message
        if duplicate is None:
            message = _received(submission, report_id, reporter_id)
        else:
            linked_to, reason = duplicate
            message = _linked(submission, report_id, reporter_id, linked_to, reason)
            report = replace(report, linked_to=linked_to, link_reason=reason)
        outgoing = envelope(
            message,
            source=SOURCE,
            time=now,
            event_id=derived_id("report-event", report_id),
            correlation_id=report_id,
        )
        if not await self.reports.add(report, [outgoing], now):
            replayed = await self.replay(report_id, request_fingerprint)
            if replayed is None:  # pragma: no cover - the colliding document vanished
                raise RuntimeError(f"report {report_id} collided but cannot be read")
            return replayed
        log.info(
            "report_accepted",
            report_id=report_id,
            channel=submission.channel,
            status=report.status,
            grid_id=submission.placement.grid_id,
        )
        return Outcome.of(report, replayed=False)

    async def replay(self, report_id: str, request_fingerprint: str) -> Outcome | None:
        stored = await self.reports.stored(report_id)
        if stored is None:
            return None
        if stored.request_fingerprint != request_fingerprint:
            # The shared rule, in intake's error shape (Open311 clients get theirs).
            raise SubmissionRejected(
                Problem(IDEMPOTENCY_HEADER, KEY_REUSED_DETAIL), code=KEY_REUSED
            )
        return Outcome.of(stored, replayed=True)

    async def _duplicate(self, submission: Submission) -> tuple[str, str] | None:
        placement = submission.placement
        if placement.precision in ("none", "township") or submission.category_code in (
            "unclassified",
        ):
            return None
        candidates = await self.reports.open_reports(
            submission.category_code,
            placement.township_id,
            submission.received_at,
            rule_for(submission.category_code).window,
        )
        found = duplicate_of(
            category_code=submission.category_code,
            grid_id=placement.grid_id,
            location=submission.location,
            description=submission.description,
            reported_at=submission.received_at,
            candidates=candidates,
        )
        return None if found is None else (found[0].report_id, found[1])


def _received(submission: Submission, report_id: str, reporter_id: str) -> ReportReceived:
    placement = submission.placement
    return ReportReceived(
        report_id=report_id,
        channel=submission.channel,
        grid_id=placement.grid_id,
        category_code=submission.category_code,
        description=submission.description,
        reported_at=submission.received_at,
        location=submission.location,
        township_id=placement.township_id,
        village_id=placement.village_id,
        reporter_id=reporter_id,
        photo_urls=submission.photo_urls,
        location_precision=placement.precision,
        worker_id=submission.worker_id,
        chat_group_id=submission.chat_group_id,
        reply_to=_reply_to(submission, report_id),
    )


def _linked(
    submission: Submission, report_id: str, reporter_id: str, linked_to: str, reason: str
) -> ReportLinked:
    placement = submission.placement
    return ReportLinked(
        report_id=report_id,
        linked_to=linked_to,
        channel=submission.channel,
        grid_id=placement.grid_id,
        category_code=submission.category_code,
        reported_at=submission.received_at,
        reason=reason,
        township_id=placement.township_id,
        village_id=placement.village_id,
        reporter_id=reporter_id,
        worker_id=submission.worker_id,
        reply_to=_reply_to(submission, report_id),
    )


def _reply_to(submission: Submission, report_id: str) -> ReplyAddress | None:
    """An Open311 client without an e-mail address follows its request by id: the report id."""
    reply_to = submission.reply_to
    if reply_to is not None and reply_to.channel == "open311" and reply_to.address is None:
        return ReplyAddress(channel="open311", address=report_id)
    return reply_to
