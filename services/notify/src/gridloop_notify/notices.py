"""Pure notice rules: which event needs which notice, its stable id, words and recipients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gridloop_common.contracts import (
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseFlagged,
    ReplyAddress,
    ScoringPeriodClosed,
    SlaBreached,
    SlaWarning,
)
from gridloop_common.envelope import derived_id
from gridloop_common.idempotency import id_for_key
from gridloop_common.registry import Registry
from gridloop_common.reporter_tokens import ReporterTokens
from gridloop_notify import texts
from gridloop_notify.alerts import alert_data
from gridloop_notify.audience import Audience, chat_groups, household_count
from gridloop_notify.delivery import RECORD_ONLY, Recipient, Segment

NoticeKind = Literal[
    "broadcast",
    "case_accepted",
    "case_completed",
    "case_closed",
    "sla_warning",
    "sla_breached",
    "case_flagged",
    "commendation",
]
# Reporters hear about these; supervisors about the alert kinds; the city about the rest.
REPORTER_KINDS: tuple[NoticeKind, ...] = ("case_accepted", "case_completed", "case_closed")

# The secret that signs deliveries to NOTIFY_REPORTER_WEBHOOK_URL (see channels.WebhookChannel).
REPORTER_WEBHOOK_SIGNER = "setting:reporter_webhook"
OPEN311_REASON = (
    "open311: nothing to push; the client reads the request's status from intake's GeoReport API"
)


@dataclass(frozen=True)
class NoticeDraft:
    """A notice ready to store: its words, the data every channel carries, and its plan."""

    notice_id: str
    kind: NoticeKind
    title: str
    text: str
    data: Mapping[str, Any]
    segments: tuple[Segment, ...]
    audience: Audience | None = None
    channels: tuple[str, ...] = ()
    case_id: str | None = None
    event_id: str | None = None
    # Reporter notices: the reply records whose contacts notify may forget afterwards.
    report_ids: tuple[str, ...] = field(default=())

    @property
    def recipients(self) -> int:
        return sum(segment.count for segment in self.segments)


@dataclass(frozen=True)
class ReplyRecord:
    """How to answer one reporter: what report.received / report.linked said."""

    report_id: str
    reporter_id: str | None
    reply_to: ReplyAddress | None
    # The case closed and its addresses are forgotten: news arriving after that (an acceptance
    # delayed past the closure by a redelivery) is recorded, not sent on another channel.
    closed: bool = False
    # The resident had their contact data erased: their news is recorded, sent nowhere.
    erased: bool = False


@dataclass(frozen=True)
class Endpoints:
    """Which reporter-facing channels this deployment has configured."""

    chat_group: bool
    sms: bool
    email: bool
    reporter_webhook_url: str


@dataclass(frozen=True)
class Subscriber:
    """A subscription's endpoint as a recipient: a webhook URL (signed) or an e-mail address."""

    subscription_id: str
    kind: Literal["webhook", "email"]
    address: str

    def recipient(self) -> Recipient:
        secret_ref = f"subscription:{self.subscription_id}" if self.kind == "webhook" else None
        return Recipient(self.subscription_id, self.address, secret_ref=secret_ref)


def notice_id(kind: NoticeKind, *key: str) -> str:
    """Stable across redeliveries and restarts: the same cause always names the same notice."""
    return derived_id("notify.notice", kind, *key)


# --- reporters ---


CLOSED_REASON = "the case had closed before this news came; its reply addresses are forgotten"
ERASED_REASON = "the reporter's contact data was erased on their request"


def reporter_segments(records: Iterable[ReplyRecord], endpoints: Endpoints) -> tuple[Segment, ...]:
    """Each reporter on the channel they reported through; one message per chat group, phone
    or address even when several linked reports came from it."""
    by_channel: dict[str, dict[str, Recipient]] = {}
    for record in records:
        channel, recipient = _reply_route(record, endpoints)
        if recipient is not None:
            by_channel.setdefault(channel, {}).setdefault(recipient.recipient_id, recipient)
    order = ("chat_group", "sms", "email", "webhook", RECORD_ONLY)
    return tuple(
        Segment(channel, "listed", len(found), tuple(found.values()))
        for channel in order
        if (found := by_channel.get(channel))
    )


def _reply_route(record: ReplyRecord, endpoints: Endpoints) -> tuple[str, Recipient | None]:
    reply = record.reply_to
    reporter = record.reporter_id or record.report_id
    channel = reply.channel if reply is not None else "none"
    if record.erased:
        return RECORD_ONLY, Recipient(reporter, "", skip_reason=ERASED_REASON)
    if record.closed:
        return RECORD_ONLY, Recipient(reporter, "", skip_reason=CLOSED_REASON)
    if channel == "open311":
        return RECORD_ONLY, Recipient(reporter, "", skip_reason=OPEN311_REASON)
    if channel in ("chat_group", "sms", "email") and reply is not None and reply.address:
        if not getattr(endpoints, channel):
            return RECORD_ONLY, Recipient(
                reporter, "", skip_reason=f"the {channel} channel is not configured"
            )
        # A chat group hears once however many of its members reported the same problem.
        recipient_id = reply.address if channel == "chat_group" else reporter
        return channel, Recipient(recipient_id, reply.address)
    if endpoints.reporter_webhook_url:
        return "webhook", Recipient(
            reporter, endpoints.reporter_webhook_url, secret_ref=REPORTER_WEBHOOK_SIGNER
        )
    return RECORD_ONLY, Recipient(
        reporter, "", skip_reason="no reply channel, and NOTIFY_REPORTER_WEBHOOK_URL is empty"
    )


def feedback_url(base_url: str, case_id: str) -> str:
    return f"{base_url}/v1/cases/{case_id}/feedback"


def _case_data(event: CaseAccepted | CaseCompleted | CaseClosed) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "report_id": event.report_id,
        "order_id": event.order_id,
        "department": event.department,
        "category_code": event.category_code,
    }


def _reporter_notice(
    kind: NoticeKind,
    event: CaseAccepted | CaseCompleted | CaseClosed,
    *,
    key: str,
    event_id: str,
    title_text: tuple[str, str],
    data: dict[str, Any],
    records: Sequence[ReplyRecord],
    endpoints: Endpoints,
) -> NoticeDraft:
    title, text = title_text
    return NoticeDraft(
        notice_id=notice_id(kind, key),
        kind=kind,
        title=title,
        text=text,
        data={**_case_data(event), **data},
        segments=reporter_segments(records, endpoints),
        case_id=event.case_id,
        event_id=event_id,
        report_ids=tuple(r.report_id for r in records),
    )


def accepted_notice(
    event: CaseAccepted, event_id: str, records: Sequence[ReplyRecord], endpoints: Endpoints
) -> NoticeDraft:
    # Keyed by order: a case re-dispatched after a rejection is news again when accepted.
    return _reporter_notice(
        "case_accepted",
        event,
        key=event.order_id,
        event_id=event_id,
        title_text=texts.case_accepted(event.case_id, event.report_id, event.department),
        data={"accepted_at": event.accepted_at.isoformat()},
        records=records,
        endpoints=endpoints,
    )


def completed_notice(
    event: CaseCompleted,
    event_id: str,
    records: Sequence[ReplyRecord],
    endpoints: Endpoints,
    *,
    feedback_base_url: str,
    tokens: ReporterTokens,
) -> NoticeDraft | None:
    """None for a cooperating unit's share of a joint action: only the case's end is news.

    Its feedback code is the token of the case's report (every reporter of the case hears it,
    linked duplicates' too: each may give the verdict)."""
    if not event.case_complete:
        return None
    url = feedback_url(feedback_base_url, event.case_id)
    code = tokens.for_report(event.report_id or event.case_id)
    return _reporter_notice(
        "case_completed",
        event,
        key=event.order_id,
        event_id=event_id,
        title_text=texts.case_completed(
            event.case_id,
            event.report_id,
            event.department,
            event.result,
            feedback_url=url,
            feedback_code=code,
        ),
        data={
            "completed_at": event.completed_at.isoformat(),
            "result": event.result,
            "feedback_url": url,
            "feedback_code": code,
        },
        records=records,
        endpoints=endpoints,
    )


def closed_notice(
    event: CaseClosed, event_id: str, records: Sequence[ReplyRecord], endpoints: Endpoints
) -> NoticeDraft:
    return _reporter_notice(
        "case_closed",
        event,
        key=event.case_id,
        event_id=event_id,
        title_text=texts.case_closed(event.case_id, event.report_id, event.satisfied),
        data={"closed_at": event.closed_at.isoformat(), "satisfied": event.satisfied},
        records=records,
        endpoints=endpoints,
    )


# --- supervisors ---


def alert_notice(
    event: SlaWarning | SlaBreached | CaseFlagged,
    event_id: str,
    subscribers: Sequence[Subscriber],
) -> NoticeDraft:
    data = alert_data(event)
    if isinstance(event, CaseFlagged):
        kind: NoticeKind = "case_flagged"
        title, text = texts.case_flagged(
            order_id=event.order_id,
            case_id=event.case_id,
            department=event.department,
            bounces=event.bounces,
            threshold=event.threshold,
        )
    else:
        kind = "sla_breached" if isinstance(event, SlaBreached) else "sla_warning"
        title, text = texts.sla_alert(
            breached=isinstance(event, SlaBreached),
            order_id=event.order_id,
            case_id=event.case_id,
            department=event.department,
            clock=event.clock,
            deadline=event.deadline,
            late_seconds=float(data["late_seconds"]),
        )
    return NoticeDraft(
        notice_id=notice_id(kind, event_id),
        kind=kind,
        title=title,
        text=text,
        data=data,
        segments=subscriber_segments(subscribers),
        case_id=event.case_id,
        event_id=event_id,
    )


def subscriber_segments(subscribers: Sequence[Subscriber]) -> tuple[Segment, ...]:
    segments = []
    for kind in ("email", "webhook"):
        listed = tuple(s.recipient() for s in subscribers if s.kind == kind)
        if listed:
            segments.append(Segment(kind, "listed", len(listed), listed))
    return tuple(segments)


# --- the city ---


def broadcast_plan(
    registry: Registry,
    audience: Audience,
    channels: Sequence[str],
    subscribers: Sequence[Subscriber],
) -> tuple[Segment, ...]:
    """Recipients per channel in a fixed order; raises UnknownAreaError for unknown ids."""
    groups = chat_groups(registry, audience)
    segments = []
    if "chat_group" in channels:
        segments.append(Segment("chat_group", "chat_groups", len(groups)))
    if "sms" in channels:
        segments.append(Segment("sms", "households", household_count(groups)))
    wanted = [s for s in subscribers if s.kind in channels]
    segments.extend(subscriber_segments(wanted))
    return tuple(segments)


def broadcast_notice(
    identifier: str,
    audience: Audience,
    *,
    title: str,
    body: str,
    channels: Sequence[str],
    segments: tuple[Segment, ...],
) -> NoticeDraft:
    return NoticeDraft(
        notice_id=identifier,
        kind="broadcast",
        title=title,
        text=body,
        data={"audience": audience.as_document()},
        segments=segments,
        audience=audience,
        channels=tuple(channels),
    )


def commendation_notice(
    event: ScoringPeriodClosed,
    event_id: str,
    registry: Registry,
    segments: tuple[Segment, ...],
) -> NoticeDraft:
    title, text = texts.commendation(
        event.period, event.granularity, event.excellent_cases, event.top_performers, registry
    )
    return NoticeDraft(
        # One announcement per period whichever copy of the event arrives.
        notice_id=notice_id("commendation", event.granularity, event.period),
        kind="commendation",
        title=title,
        text=text,
        data={
            "period": event.period,
            "granularity": event.granularity,
            "closed_at": event.closed_at.isoformat(),
            "excellent_cases": [c.model_dump(mode="json") for c in event.excellent_cases],
            "top_performers": [p.model_dump(mode="json") for p in event.top_performers],
        },
        segments=segments,
        audience=Audience.city(),
        channels=tuple(s.channel for s in segments),
        event_id=event_id,
    )


def new_broadcast_id(scope: str, idempotency_key: str | None, fallback: str) -> str:
    """With a key, the same key on the same endpoint always names the same notice, so a retry
    that races the first request collides on the primary key instead of creating a second."""
    if idempotency_key:
        return id_for_key("N-", "notice", scope, idempotency_key, 20)
    return "N-" + fallback
