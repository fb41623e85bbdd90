"""The native JSON API: a client that already knows the grid or the point, and the category."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from gridloop_common.contracts import GeoPoint, ReplyAddress
from gridloop_common.registry import Registry
from gridloop_intake.channels.common import Description, Identifier, PhotoUrl, known_category
from gridloop_intake.locating import place_grid, place_point
from gridloop_intake.submission import Contact, Submission


class ReporterContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")] | None = None
    name: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: EmailStr | None = None


class NewReport(BaseModel):
    """Give `grid_id`, or `location`, or both (then the point must lie in that grid's city)."""

    model_config = ConfigDict(extra="forbid")

    grid_id: Identifier | None = None
    category_code: Identifier
    description: Description
    location: GeoPoint | None = None
    photo_urls: list[PhotoUrl] = Field(default_factory=list, max_length=10)
    reporter: ReporterContact | None = None

    @model_validator(mode="after")
    def _placed(self) -> NewReport:
        if self.grid_id is None and self.location is None:
            raise ValueError("give grid_id or location")
        return self


def to_submission(request: NewReport, registry: Registry, now: datetime) -> Submission:
    category = known_category(request.category_code)
    if request.location is not None:
        placement = place_point(registry, request.location.lat, request.location.lon)
    else:
        assert request.grid_id is not None
        placement = place_grid(registry, request.grid_id)
    contact = Contact(**request.reporter.model_dump()) if request.reporter else Contact()
    reply_to = None
    if contact.phone:
        reply_to = ReplyAddress(channel="sms", address=contact.phone)
    elif contact.email:
        reply_to = ReplyAddress(channel="email", address=contact.email)
    return Submission(
        channel="native",
        placement=placement,
        category_code=category,
        description=request.description,
        received_at=now,
        location=request.location,
        photo_urls=tuple(request.photo_urls),
        contact=contact,
        reply_to=reply_to,
    )
