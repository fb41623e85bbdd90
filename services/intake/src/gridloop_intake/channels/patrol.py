"""Patrol reports by grid workers: the worker's grid is known from the registry."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gridloop_common.contracts import GeoPoint
from gridloop_common.registry import Registry
from gridloop_intake.channels.common import Description, Identifier, PhotoUrl, known_category
from gridloop_intake.locating import place_grid, place_point
from gridloop_intake.submission import Problem, Submission, SubmissionRejected


class PatrolReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Identifier
    category_code: Identifier
    description: Description
    location: GeoPoint | None = None
    photo_urls: list[PhotoUrl] = Field(default_factory=list, max_length=10)


def to_submission(request: PatrolReport, registry: Registry, now: datetime) -> Submission:
    worker = registry.officer(request.worker_id)
    if worker is None:
        raise SubmissionRejected(
            Problem("worker_id", f"unknown grid worker {request.worker_id!r}"),
            code="unknown_worker",
        )
    category = known_category(request.category_code)
    # A point, when the worker's device gives one, is more precise than the worker's own grid.
    placement = (
        place_point(registry, request.location.lat, request.location.lon)
        if request.location is not None
        else place_grid(registry, worker.grid_id)
    )
    return Submission(
        channel="patrol",
        placement=placement,
        category_code=category,
        description=request.description,
        received_at=now,
        location=request.location,
        photo_urls=tuple(request.photo_urls),
        worker_id=worker.id,
        external_ref=f"worker:{worker.id}",
    )
