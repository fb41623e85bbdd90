"""Events intake publishes about reports."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from gridloop_common.contracts.base import Event, UtcDatetime

Channel = Literal["native", "chat_group", "patrol", "hotline", "open311"]
# How precisely the problem's place is known: a point, a named grid, only a village, or nothing.
Precision = Literal["point", "grid", "village", "township", "none"]
# `grid_id` of a report whose grid could not be determined; the center triages it.
UNLOCATED = "unlocated"


class GeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ReplyAddress(BaseModel):
    """The one contact detail notify needs to answer the reporter on their own channel."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: Literal["chat_group", "sms", "email", "open311", "none"]
    # A chat group id, a phone number (hotline), an e-mail address, or a service request id.
    address: str | None = None


class ReportReceived(Event):
    """A report was accepted by intake and stored; dispatch opens a case from it."""

    TYPE: ClassVar[str] = "org.gridloop.report.received.v1"
    BINDING: ClassVar[str] = "report.received.#"

    report_id: str
    channel: Channel
    grid_id: str
    category_code: str
    description: str
    reported_at: UtcDatetime
    location: GeoPoint | None = None
    township_id: str | None = None
    village_id: str | None = None
    # Pseudonymous; contact details stay in intake's contact store.
    reporter_id: str | None = None
    photo_urls: tuple[str, ...] = ()
    location_precision: Precision | None = None
    # The grid worker who filed it (patrol) or the chat group it came from; for scoring.
    worker_id: str | None = None
    chat_group_id: str | None = None
    reply_to: ReplyAddress | None = None

    def routing_key(self) -> str:
        return f"report.received.{self.channel}"

    def subject(self) -> str | None:
        return self.report_id


class ReportLinked(Event):
    """A report was recognised as a duplicate and attached to an open report as support."""

    TYPE: ClassVar[str] = "org.gridloop.report.linked.v1"
    BINDING: ClassVar[str] = "report.linked.#"

    report_id: str
    linked_to: str
    channel: Channel
    grid_id: str
    category_code: str
    reported_at: UtcDatetime
    reason: str
    township_id: str | None = None
    village_id: str | None = None
    reporter_id: str | None = None
    worker_id: str | None = None
    reply_to: ReplyAddress | None = None

    def routing_key(self) -> str:
        return f"report.linked.{self.channel}"

    def subject(self) -> str | None:
        return self.linked_to


class ReporterErased(Event):
    """On the resident's request the center erased a reporter's contact data in intake; every
    service that keeps a reply address of theirs drops it too. Cases and figures stay: they hold
    the pseudonym `reporter_id` only."""

    TYPE: ClassVar[str] = "org.gridloop.reporter.erased.v1"
    BINDING: ClassVar[str] = "reporter.erased"

    erasure_id: str
    reporter_id: str
    erased_at: UtcDatetime

    def routing_key(self) -> str:
        return "reporter.erased"

    def subject(self) -> str | None:
        return self.reporter_id
