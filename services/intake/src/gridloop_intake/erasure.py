"""Erasing a resident's contact data on their request, while their reports and cases remain.

intake keeps the contact (phone, name, e-mail) apart from the reports, under the reporter's
pseudonym (`contacts.reporter_id_for`), so erasing it is one delete. Reports, cases and scores
hold only the pseudonym and stay. notify keeps reply addresses of its own; `ReporterErased`
tells it to drop them. The erasure is recorded first, with that event in its outbox, then the
contact is deleted: a crash between the two leaves the event going out and the contact still
there, and the operator's retry (erasing is idempotent) deletes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gridloop_common.clock import Clock
from gridloop_common.contracts import ReporterErased
from gridloop_common.messaging import envelope
from gridloop_intake.contacts import reporter_id_for
from gridloop_intake.repository import ReportRepository
from gridloop_intake.submission import Contact


class NothingToErase(ValueError):
    """The request names no reporter: no phone, no e-mail, no reporter id."""


@dataclass(frozen=True)
class ErasureRequest:
    """Who to erase: the phone or e-mail the resident gives, or the pseudonym itself."""

    phone: str | None = None
    email: str | None = None
    reporter_id: str | None = None

    def reporter(self, pseudonym_key: bytes) -> str:
        if self.reporter_id:
            return self.reporter_id
        contact = Contact(phone=self.phone or None, email=self.email or None)
        if contact.is_empty():
            raise NothingToErase("give the reporter's phone, e-mail or reporter_id")
        return reporter_id_for(contact, pseudonym_key, fallback="")


@dataclass(frozen=True)
class Erasure:
    erasure_id: str
    reporter_id: str
    # False when intake held no contact for them (already erased, or they left none).
    contact_erased: bool


@dataclass
class ContactEraser:
    reports: ReportRepository
    clock: Clock
    pseudonym_key: bytes
    source: str = "intake"

    async def erase(self, request: ErasureRequest) -> Erasure:
        reporter_id = request.reporter(self.pseudonym_key)
        now = self.clock.now()
        erasure_id = f"E-{uuid.uuid4().hex}"
        event = ReporterErased(erasure_id=erasure_id, reporter_id=reporter_id, erased_at=now)
        outgoing = [envelope(event, source=self.source, time=now)]
        await self.reports.record_erasure(erasure_id, reporter_id, outgoing, now)
        erased = await self.reports.erase_contact(reporter_id)
        return Erasure(erasure_id, reporter_id, erased)
