"""Dropping a reporter's reply addresses when intake erased their contact data.

notify holds a reporter's address in three places: the reply record of each of their reports
(until the case closes), a notice still being expanded (its listed recipients), and a delivery
not yet settled (its batch entry; a settled entry loses its address, `delivery.settle`). The reply
records are erased first, so no new notice reaches the reporter on a personal channel. Notices
and deliveries already under way are let finish: the event waits (`NotYet`, the consumer's
patience and retries) until nothing is in flight to the reporter, so that when it is
acknowledged notify holds no address of theirs. If deliveries are still in flight after every
retry (a gateway down for long), the event is parked with that reason, for the operator to
replay once they settle.

The in-flight lookups scan (no index on a recipient serves them): an erasure is a rare request,
and an index would cost a write on every notice and batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from gridloop_common.messaging import NotYet
from gridloop_notify.repository import BatchRepository, NoticeRepository, ReporterRepository

log = structlog.stdlib.get_logger("gridloop.notify.erasure")


class DeliveriesInFlight(NotYet):
    """A notice or batch to the reporter is still being worked: erase once it settles."""


@dataclass(frozen=True)
class ReplyAddressEraser:
    reporters: ReporterRepository
    notices: NoticeRepository
    batches: BatchRepository

    async def erase(self, reporter_id: str) -> None:
        records = await self.reporters.erase(reporter_id)
        if await self.notices.expanding_to(reporter_id) or await self.batches.open_to(reporter_id):
            raise DeliveriesInFlight(f"deliveries to reporter {reporter_id} are still in flight")
        # The pseudonym only; never an address.
        log.info("reply_addresses_erased", reporter_id=reporter_id, reports=records)
