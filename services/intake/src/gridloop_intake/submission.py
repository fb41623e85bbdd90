"""The canonical submission every channel adapter produces, and the rejection it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gridloop_common.contracts import GeoPoint
from gridloop_common.contracts.reports import Channel, Precision, ReplyAddress

# Case statuses after which a report is done: no longer open to Open311, nor to duplicates.
FINISHED = frozenset({"closed", "resolved"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request, for a machine-readable 422."""

    field: str
    reason: str


class SubmissionRejected(Exception):
    def __init__(self, *problems: Problem, code: str = "invalid_report") -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems
        self.code = code


@dataclass(frozen=True)
class Placement:
    """Where the problem is, as precisely as the channel allowed."""

    grid_id: str
    precision: Precision
    village_id: str | None = None
    township_id: str | None = None


@dataclass(frozen=True)
class Contact:
    """A reporter's personal data: stored apart from the report, never logged or published."""

    phone: str | None = None
    name: str | None = None
    email: str | None = None

    def is_empty(self) -> bool:
        return not (self.phone or self.name or self.email)


@dataclass(frozen=True)
class Submission:
    channel: Channel
    placement: Placement
    category_code: str
    description: str
    received_at: datetime
    location: GeoPoint | None = None
    photo_urls: tuple[str, ...] = ()
    contact: Contact = field(default_factory=Contact)
    reply_to: ReplyAddress | None = None
    worker_id: str | None = None
    chat_group_id: str | None = None
    # The channel's own id of the thing reported (chat message, hotline call), for support staff.
    external_ref: str | None = None
    # Where the problem is, in the reporter's words (Open311 address_string); not a contact.
    address: str | None = None
    # Answers to a service's extra questions (Open311 attribute[code]=value), kept with the report.
    attributes: tuple[tuple[str, str], ...] = ()
