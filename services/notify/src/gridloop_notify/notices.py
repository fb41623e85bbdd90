"""Pure notice rules: which events need a notice, its id and words, and what a failure means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gridloop_common.catalogue import DEPARTMENTS_BY_CODE
from gridloop_common.contracts import CaseAccepted
from gridloop_common.envelope import derived_id

NoticeKind = Literal["case_accepted"]

# A webhook answering one of these will answer the same next time: retrying cannot help.
# 408 (timeout) and 429 (slow down) are the 4xx codes that invite a retry.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


@dataclass(frozen=True)
class Notice:
    """One message to one recipient for any channel: `text` for people, `body` for machines."""

    notice_id: str
    kind: NoticeKind
    event_id: str
    case_id: str
    recipient_id: str
    text: str
    body: Mapping[str, Any]


def notice_id(kind: NoticeKind, event_id: str) -> str:
    """Stable across redeliveries and restarts, so receivers can deduplicate on it."""
    return derived_id("notify.notice", kind, event_id)


def case_accepted_text(case_id: str, department: str) -> str:
    known = DEPARTMENTS_BY_CODE.get(department)
    name_zh = known.name_zh if known else department
    name_en = f"the {known.name_en}" if known else department
    # Full-width punctuation is correct in Chinese text, not a look-alike of ASCII.
    chinese = f"您反映的问题（案件 {case_id}）已由{name_zh}受理。"  # noqa: RUF001
    return f"{chinese} Your report (case {case_id}) has been accepted by {name_en}."


def reporter_notice(event: CaseAccepted, event_id: str) -> Notice | None:
    """The notice telling the reporter their case was accepted; None when nobody reported it."""
    if not event.reporter_id:
        return None
    kind: NoticeKind = "case_accepted"
    identifier = notice_id(kind, event_id)
    text = case_accepted_text(event.case_id, event.department)
    body = {
        "notice_id": identifier,
        "kind": kind,
        "case_id": event.case_id,
        "report_id": event.report_id,
        "reporter_id": event.reporter_id,
        "department": event.department,
        "accepted_at": event.accepted_at.isoformat(),
        "text": text,
    }
    return Notice(
        notice_id=identifier,
        kind=kind,
        event_id=event_id,
        case_id=event.case_id,
        recipient_id=event.reporter_id,
        text=text,
        body=body,
    )


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


def is_permanent_failure(status_code: int) -> bool:
    return 400 <= status_code < 500 and status_code not in _RETRYABLE_CLIENT_ERRORS


def is_final_attempt(attempt: int, retry_delays_ms: Sequence[int]) -> bool:
    """Mirrors the shared consumer: a failure on attempt N parks once N exceeds the retry tiers."""
    return attempt > len(retry_delays_ms)
