"""Events intake publishes about reports."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from gridloop_common.contracts.base import Event, UtcDatetime

Channel = Literal["native", "chat_group", "patrol", "hotline", "open311"]


class GeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


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

    def routing_key(self) -> str:
        return f"report.received.{self.channel}"
