"""Reports and reporters' contacts in intake's own database; contacts live apart from reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

from gridloop_common.batched_inserts import BatchedInserts
from gridloop_common.catalogue import UNCLASSIFIED
from gridloop_common.contracts.reports import Channel
from gridloop_common.messaging import Outgoing
from gridloop_common.mongo import Collection, IndexSpec
from gridloop_common.outbox import RelayNow, outbox_fields
from gridloop_intake.channels.open311 import RequestQuery, ServiceRequest
from gridloop_intake.duplicates import OpenReport
from gridloop_intake.repository.candidates import DUPLICATE_KEY, DuplicateCandidates, duplicate_key
from gridloop_intake.submission import FINISHED, Contact, Submission

REPORTS = "reports"
CHANNELS: tuple[str, ...] = get_args(Channel)
CONTACTS = "contacts"
# Each erasure of a reporter's contact data, with its ReporterErased event in the outbox.
ERASURES = "erasures"
# A report's status follows its case; a later status never gives way to an earlier one.
STATUS_RANK = {
    "received": 0,
    "dispatched": 1,
    "reopened": 1,
    "accepted": 2,
    "completed": 3,
    "closed": 4,
}
# Every index costs a write on each accepted report, so there is one per query and no more.
INDEXES = [
    # Duplicate candidates: reports of a category in a township on a day (one field, so that one
    # `$in` looks up many reports' candidates at once; see candidates.duplicate_key).
    IndexSpec(REPORTS, [(DUPLICATE_KEY, 1)]),
    # Open311 GET requests.json: a date range, newest first, over every channel ($in on the
    # prefix, so one index serves per-channel and all-channel listings).
    IndexSpec(REPORTS, [("channel", 1), ("reported_at", -1)]),
    # None on `linked_to`: supporting reports are found through their original's `supporters`.
    # An index, even a sparse one, cost the stand-in a write on every report's insert and outbox
    # clearing (0.15 ms of database CPU per report) to serve the few linked ones.
]
# What an Open311 service request shows of a report.
OPEN311_FIELDS = dict.fromkeys(
    (
        "status",
        "case_status",
        "linked_to",
        "channel",
        "category_code",
        "description",
        "department",
        "status_note",
        "reported_at",
        "updated_at",
        "expected_by",
        "address",
        "grid_id",
        "village_id",
        "township_id",
        "location",
        "photo_urls",
    ),
    1,
)


def service_request_of(document: dict[str, Any]) -> ServiceRequest:
    """A stored report (read with OPEN311_FIELDS) as Open311 shows it."""
    status = str(document.get("status", "received"))
    if status == "linked":
        status = str(document.get("case_status", "received"))
    location = document.get("location") or {}
    return ServiceRequest(
        report_id=document["_id"],
        case_status=status,
        linked_to=document.get("linked_to"),
        channel=str(document.get("channel", "")),
        category_code=str(document.get("category_code", UNCLASSIFIED)),
        description=document.get("description"),
        department=document.get("department"),
        status_note=document.get("status_note"),
        reported_at=document.get("reported_at"),
        updated_at=document.get("updated_at"),
        expected_by=document.get("expected_by"),
        address=document.get("address"),
        grid_id=document.get("grid_id"),
        village_id=document.get("village_id"),
        township_id=document.get("township_id"),
        lat=location.get("lat"),
        lon=location.get("lon"),
        photo_urls=tuple(document.get("photo_urls") or ()),
    )


# The case fields a report shows; a supporting (linked) report mirrors its original's.
CASE_FIELDS = ("case_id", "department", "expected_by", "updated_at", "status_note")
# What the API never shows: bookkeeping and the outbox.
HIDDEN = {
    "outbox": 0,
    "outbox_pending": 0,
    "outbox_at": 0,
    "outbox_lease": 0,
    "outbox_lease_holder": 0,
    "applied_events": 0,
    "status_rank": 0,
    "case_rank": 0,
    "request_fingerprint": 0,
    "supporters": 0,
    DUPLICATE_KEY: 0,
}


@dataclass(frozen=True)
class NewReport:
    """A submission accepted as a report: its id, its reporter's pseudonym, the request's
    fingerprint (a key reused with another body is refused) and, for a duplicate, its original."""

    submission: Submission
    report_id: str
    reporter_id: str
    request_fingerprint: str
    linked_to: str | None = None
    link_reason: str | None = None

    @property
    def status(self) -> str:
        return "linked" if self.linked_to else "received"

    @property
    def grid_id(self) -> str:
        return self.submission.placement.grid_id

    @property
    def category_code(self) -> str:
        return self.submission.category_code

    @property
    def location_precision(self) -> str:
        return self.submission.placement.precision


@dataclass(frozen=True)
class StoredReport:
    """What a retried request is answered from: the report as first accepted."""

    report_id: str
    linked_to: str | None
    grid_id: str
    category_code: str
    location_precision: str
    request_fingerprint: str | None


def report_document(report: NewReport) -> dict[str, Any]:
    submission = report.submission
    placement = submission.placement
    document: dict[str, Any] = {
        "_id": report.report_id,
        "channel": submission.channel,
        "grid_id": placement.grid_id,
        "village_id": placement.village_id,
        "township_id": placement.township_id,
        "location_precision": placement.precision,
        "category_code": submission.category_code,
        DUPLICATE_KEY: duplicate_key(
            submission.category_code, placement.township_id, submission.received_at
        ),
        "description": submission.description,
        "location": submission.location.model_dump() if submission.location else None,
        "photo_urls": list(submission.photo_urls),
        "reported_at": submission.received_at,
        "reporter_id": report.reporter_id,
        "worker_id": submission.worker_id,
        "chat_group_id": submission.chat_group_id,
        "external_ref": submission.external_ref,
        "reply_channel": submission.reply_to.channel if submission.reply_to else None,
        "address": submission.address,
        "attributes": dict(submission.attributes),
        "request_fingerprint": report.request_fingerprint,
        "status_rank": 0,
        "status": report.status,
    }
    if report.linked_to is not None:
        document.update(linked_to=report.linked_to, link_reason=report.link_reason)
    return document


class ReportRepository:
    def __init__(
        self,
        reports: Collection,
        contacts: Collection,
        erasures: Collection,
        relay_now: RelayNow | None = None,
    ) -> None:
        self.reports = reports
        self.contacts = contacts
        self.erasures = erasures
        # Hands stored events to the publisher at once; without it the outbox sweep sends them.
        self._relay_now = relay_now
        self._inserts = BatchedInserts(reports)
        self._candidates = DuplicateCandidates(reports)

    async def add(self, report: NewReport, events: list[Outgoing], now: datetime) -> bool:
        """Store a new report with its events, then publish them; False if its id exists (a
        retried request). A duplicate is listed on its original first and starts with the
        original's case fields (see add_supporter)."""
        document = report_document(report)
        if report.linked_to is not None:
            document.update(await self.add_supporter(report.linked_to, report.report_id))
        if not await self._inserts.insert({**document, **outbox_fields(events, now)}):
            return False
        self._relay(self.reports, report.report_id, events)
        return True

    async def stored(self, report_id: str) -> StoredReport | None:
        found = await self.reports.find_one(
            {"_id": report_id},
            dict.fromkeys(
                ("linked_to", "grid_id", "category_code", "location_precision",
                 "request_fingerprint"),
                1,
            ),
        )  # fmt: skip
        if found is None:
            return None
        return StoredReport(
            report_id=found["_id"],
            linked_to=found.get("linked_to"),
            grid_id=found["grid_id"],
            category_code=found["category_code"],
            location_precision=found["location_precision"],
            request_fingerprint=found.get("request_fingerprint"),
        )

    def _relay(self, collection: Collection, document_id: str, events: list[Outgoing]) -> None:
        if self._relay_now is not None:
            self._relay_now(collection, document_id, events)

    async def remember_contact(self, reporter_id: str, contact: Contact, now: datetime) -> None:
        fields = {k: v for k, v in vars(contact).items() if v}
        await self.contacts.update_one(
            {"_id": reporter_id},
            {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True,
        )

    async def record_erasure(
        self, erasure_id: str, reporter_id: str, events: list[Outgoing], now: datetime
    ) -> None:
        """Store the erasure with its event (published at once; by the outbox sweep if this
        replica dies first)."""
        await self.erasures.insert_one(
            {"_id": erasure_id, "reporter_id": reporter_id, "at": now, **outbox_fields(events, now)}
        )
        self._relay(self.erasures, erasure_id, events)

    async def erase_contact(self, reporter_id: str) -> bool:
        """Delete the reporter's contact; False if there was none."""
        result = await self.contacts.delete_one({"_id": reporter_id})
        return result.deleted_count == 1

    async def get(
        self, report_id: str, projection: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        return await self.reports.find_one({"_id": report_id}, projection or HIDDEN)

    async def service_request(self, report_id: str) -> ServiceRequest | None:
        document = await self.reports.find_one({"_id": report_id}, OPEN311_FIELDS)
        return None if document is None else service_request_of(document)

    async def exists(self, report_id: str) -> bool:
        return await self.reports.find_one({"_id": report_id}, {"_id": 1}) is not None

    async def service_requests(self, query: RequestQuery, limit: int) -> list[ServiceRequest]:
        """Reports for Open311's GET requests.json, newest first."""
        return [service_request_of(d) for d in await self._service_requests(query, limit)]

    async def _service_requests(self, query: RequestQuery, limit: int) -> list[dict[str, Any]]:
        if query.ids is not None:
            return await self.find({"_id": {"$in": list(query.ids)}}, limit, OPEN311_FIELDS)
        selector: dict[str, Any] = {
            "channel": {"$in": list(CHANNELS)},
            "reported_at": {"$gte": query.start, "$lte": query.end},
        }
        if query.service_codes:
            selector["category_code"] = {"$in": list(query.service_codes)}
        finished = list(FINISHED)
        if query.closed is True:
            selector["$or"] = [{"status": {"$in": finished}}, {"case_status": {"$in": finished}}]
        elif query.closed is False:
            selector["status"] = {"$nin": finished}
            selector["case_status"] = {"$nin": finished}
        return await self.find(selector, limit, OPEN311_FIELDS)

    async def find(
        self, query: dict[str, Any], limit: int, projection: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.reports.find(query, projection or HIDDEN).sort("reported_at", -1).limit(limit)
        return [document async for document in cursor]

    async def add_supporter(self, original_id: str, report_id: str) -> dict[str, Any]:
        """List a supporting report on its original, then return the case fields it starts with
        (in this order, so a case event in between is in the fields read).

        Two commands rather than one find_one_and_update: the stand-in answers findAndModify by
        scanning the whole collection (70 ms at 20,000 reports), an update by id it does not.
        """
        await self.reports.update_one(
            {"_id": original_id}, {"$addToSet": {"supporters": report_id}}
        )
        found = await self.reports.find_one(
            {"_id": original_id}, {"status": 1, "status_rank": 1, **dict.fromkeys(CASE_FIELDS, 1)}
        )
        if found is None:
            return {}
        state = {field: found[field] for field in CASE_FIELDS if field in found}
        status = found.get("status", "received")
        return {**state, "case_status": status, "case_rank": STATUS_RANK.get(status, 0)}

    async def open_reports(
        self, category_code: str, township_id: str | None, around: datetime, window: timedelta
    ) -> list[OpenReport]:
        """Open, original reports of a category in a township within a window around a time:
        the candidates a new report may duplicate."""
        return await self._candidates.open_reports(category_code, township_id, around, window)

    async def record_case_status(
        self, report_id: str, event_id: str, status: str, fields: dict[str, Any]
    ) -> None:
        """Apply a case update once, and only forward: events may arrive out of order.

        The one step back is a reopening, which applies only to a completed or closed case.
        """
        rank = STATUS_RANK[status]
        await self.reports.update_one(
            {
                "_id": report_id,
                "applied_events": {"$ne": event_id},
                **_forward("status_rank", status),
            },
            {
                "$set": {"status": status, "status_rank": rank, **fields},
                "$push": {"applied_events": event_id},
            },
        )
        # Supporting reports follow their original's case: the same forward-only rule, applied
        # to their mirror fields (their own status stays "linked"). Read apart from the update
        # (see add_supporter), and also when the original had applied the event already: a
        # redelivery after a crash between the two writes still reaches the supporters.
        original = await self.reports.find_one({"_id": report_id}, {"supporters": 1})
        supporters = (original or {}).get("supporters") or []
        if not supporters:
            return
        await self.reports.update_many(
            {
                "_id": {"$in": supporters},
                "applied_events": {"$ne": event_id},
                **_forward("case_rank", status),
            },
            {
                "$set": {"case_status": status, "case_rank": rank, **fields},
                "$push": {"applied_events": event_id},
            },
        )


def _forward(rank_field: str, status: str) -> dict[str, Any]:
    """The guard that lets a status replace only an earlier one (or reopen a finished case).

    "Not at or beyond this rank" also matches a document without the field, as `$or` of `$lt`
    and `$exists: false` would; but a top-level `$or` made the stand-in scan the collection on
    every case event (130 ms at 20,000 reports) where this is answered through the id.
    """
    if status == "reopened":
        return {rank_field: {"$gte": STATUS_RANK["completed"]}}
    return {rank_field: {"$not": {"$gte": STATUS_RANK[status]}}}
