"""intake's use case called directly, over reports kept in memory: a retried request is answered
from the report it made, a key reused with another body is refused, and a reporter's contact is
kept apart from the report and its event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridloop_common.clock import ManualClock
from gridloop_common.idempotency import KEY_REUSED
from gridloop_common.messaging import Outgoing
from gridloop_intake.duplicates import OpenReport
from gridloop_intake.repository import NewReport, StoredReport
from gridloop_intake.service import ReportService
from gridloop_intake.submission import Contact, Placement, Submission, SubmissionRejected

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PHONE = "13800000000"


class MemoryReports:
    def __init__(self) -> None:
        self.reports: dict[str, NewReport] = {}
        self.contacts: dict[str, Contact] = {}
        self.published: list[Outgoing] = []

    async def remember_contact(self, reporter_id: str, contact: Contact, now: datetime) -> None:
        self.contacts[reporter_id] = contact

    async def open_reports(
        self, category_code: str, township_id: str | None, around: datetime, window: timedelta
    ) -> list[OpenReport]:
        return []

    async def add(self, report: NewReport, events: list[Outgoing], now: datetime) -> bool:
        if report.report_id in self.reports:
            return False
        self.reports[report.report_id] = report
        self.published += events
        return True

    async def stored(self, report_id: str) -> StoredReport | None:
        report = self.reports.get(report_id)
        if report is None:
            return None
        return StoredReport(
            report.report_id,
            report.linked_to,
            report.grid_id,
            report.category_code,
            report.location_precision,
            report.request_fingerprint,
        )


def pothole(description: str = "路面坑洼") -> Submission:
    return Submission(
        channel="native",
        placement=Placement("g-1", "grid", village_id="v-1", township_id="t-1"),
        category_code="road-damage",
        description=description,
        received_at=NOW,
        contact=Contact(phone=PHONE, name="王芳"),
    )


def service_over(reports: MemoryReports) -> ReportService:
    return ReportService(reports, ManualClock(NOW), b"pseudonym-key")  # type: ignore[arg-type]


async def test_a_retried_request_is_answered_from_the_report_it_made() -> None:
    reports = MemoryReports()
    service = service_over(reports)

    first = await service.submit(
        pothole(), scope="native", idempotency_key="k-1", request_fingerprint="f-1"
    )
    again = await service.submit(
        pothole(), scope="native", idempotency_key="k-1", request_fingerprint="f-1"
    )

    assert (first.replayed, again.replayed) == (False, True)
    assert again.report_id == first.report_id and first.status == "received"
    assert list(reports.reports) == [first.report_id]
    assert [o.routing_key for o in reports.published] == ["report.received.native"]


async def test_a_key_reused_with_another_body_is_refused_and_nothing_is_stored() -> None:
    reports = MemoryReports()
    service = service_over(reports)
    await service.submit(
        pothole(), scope="native", idempotency_key="k-1", request_fingerprint="f-1"
    )

    with pytest.raises(SubmissionRejected) as refused:
        await service.submit(
            pothole("另一处"), scope="native", idempotency_key="k-1", request_fingerprint="f-2"
        )

    assert refused.value.code == KEY_REUSED
    assert len(reports.reports) == 1 and len(reports.published) == 1


async def test_requests_without_a_key_are_separate_reports() -> None:
    reports = MemoryReports()
    service = service_over(reports)
    for _ in range(2):
        await service.submit(
            pothole(), scope="native", idempotency_key=None, request_fingerprint="f-1"
        )
    assert len(reports.reports) == 2


async def test_the_contact_is_kept_apart_and_the_event_names_only_a_pseudonym() -> None:
    reports = MemoryReports()
    outcome = await service_over(reports).submit(
        pothole(), scope="native", idempotency_key=None, request_fingerprint="f-1"
    )

    (reporter_id,) = reports.contacts
    assert reports.contacts[reporter_id].phone == PHONE
    assert reports.reports[outcome.report_id].reporter_id == reporter_id
    (event,) = reports.published
    assert reporter_id.encode() in event.body
    assert PHONE.encode() not in event.body and "王芳".encode() not in event.body
