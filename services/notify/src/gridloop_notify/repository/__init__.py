"""notify's own database: notices, their delivery batches, reply addresses, subscriptions."""

from __future__ import annotations

from gridloop_notify.delivery import PENDING
from gridloop_notify.repository.batches import (
    BatchRepository,
    ClaimedBatch,
    DeliveryRecord,
    batch_document,
)
from gridloop_notify.repository.common import (
    BATCHES,
    INDEXES,
    NOTICES,
    REPORTERS,
    SUBSCRIPTIONS,
)
from gridloop_notify.repository.notices import (
    COMPLETED,
    EXPANDING,
    SENDING,
    ExpansionLease,
    NoticeContent,
    NoticePlan,
    NoticeProgress,
    NoticeRecord,
    NoticeRepository,
    segment_document,
    segment_from_document,
)
from gridloop_notify.repository.reporters import MAX_LINKED_REPORTERS, ReporterRepository
from gridloop_notify.repository.subscriptions import SubscriptionRepository

__all__ = [
    "BATCHES",
    "COMPLETED",
    "EXPANDING",
    "INDEXES",
    "MAX_LINKED_REPORTERS",
    "NOTICES",
    "PENDING",
    "REPORTERS",
    "SENDING",
    "SUBSCRIPTIONS",
    "BatchRepository",
    "ClaimedBatch",
    "DeliveryRecord",
    "ExpansionLease",
    "NoticeContent",
    "NoticePlan",
    "NoticeProgress",
    "NoticeRecord",
    "NoticeRepository",
    "ReporterRepository",
    "SubscriptionRepository",
    "batch_document",
    "segment_document",
    "segment_from_document",
]
