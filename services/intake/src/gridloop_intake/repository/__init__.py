"""intake's database: every query intake makes is in this package.

- reports: reports (with their embedded outbox), contacts and erasures, and the Open311 views.
- candidates: the open reports a new one may duplicate, many reports' candidates per query.
- upgrades: one-time changes to stored reports (new fields, retired indexes), each run once.
"""

from gridloop_intake.repository.candidates import (
    CLOSED_TO_DUPLICATES,
    DUPLICATE_KEY,
    CandidateQuery,
    DuplicateCandidates,
    duplicate_key,
)
from gridloop_intake.repository.reports import (
    CASE_FIELDS,
    CHANNELS,
    CONTACTS,
    ERASURES,
    HIDDEN,
    INDEXES,
    REPORTS,
    STATUS_RANK,
    NewReport,
    ReportRepository,
    StoredReport,
    report_document,
    service_request_of,
)
from gridloop_intake.repository.upgrades import UPGRADES, StoredReportUpgrades

__all__ = [
    "CASE_FIELDS",
    "CHANNELS",
    "CLOSED_TO_DUPLICATES",
    "CONTACTS",
    "DUPLICATE_KEY",
    "ERASURES",
    "HIDDEN",
    "INDEXES",
    "REPORTS",
    "STATUS_RANK",
    "UPGRADES",
    "CandidateQuery",
    "DuplicateCandidates",
    "NewReport",
    "ReportRepository",
    "StoredReport",
    "StoredReportUpgrades",
    "duplicate_key",
    "report_document",
    "service_request_of",
]
