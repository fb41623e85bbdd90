"""Pure rules for turning an accepted submission into a stored report and its event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gridloop_common.contracts import GeoPoint, ReportReceived
from gridloop_common.contracts.reports import Channel
from gridloop_common.envelope import derived_id

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class NewReport(BaseModel):
    """The native API's request body."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel = "native"
    grid_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    category_code: Code
    description: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    location: GeoPoint | None = None
    photo_urls: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=10
    )


def anonymous_reporter_id(report_id: str) -> str:
    """A pseudonym for a reporter who left no contact: notices go back through the report."""
    return "P-" + derived_id("reporter", report_id)[:18]


def report_event(report_id: str, submission: NewReport, received_at: datetime) -> ReportReceived:
    return ReportReceived(
        reporter_id=anonymous_reporter_id(report_id),
        report_id=report_id,
        channel=submission.channel,
        grid_id=submission.grid_id,
        category_code=submission.category_code,
        description=submission.description,
        reported_at=received_at,
        location=submission.location,
        photo_urls=tuple(submission.photo_urls),
    )


def report_document(event: ReportReceived) -> dict[str, Any]:
    return {
        "_id": event.report_id,
        **event.model_dump(mode="python", exclude={"report_id"}),
        "status": "received",
    }
