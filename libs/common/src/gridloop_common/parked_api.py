"""Every consuming service's parked messages over HTTP: how many wait in `<service>.dead` and
why, and putting chosen ones back in its inbox. The operations console's page calls these.

A look takes the messages without acknowledging them and gives them back (parked.peek), on a
channel of its own that closes after, so a failed request cannot strand a message. One look or
replay at a time per process: a look in progress hides what it holds from another. (Replicas
share the queue; two operators replaying at one moment on two replicas each replay what they
see, and a message is replayed once, since a replay removes the original only after the copy
is confirmed.) Bodies are not shown: they carry residents' words; the ops CLI shows them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gridloop_common.http_errors import ApiProblem
from gridloop_common.messaging import dead_queue
from gridloop_common.messaging import parked as parking
from gridloop_common.runtime import ServiceRuntime
from gridloop_common.settings import StaffKeySettings
from gridloop_common.staff import authenticated_staff

# A look examines at most this many (the counts by reason say over how many); the broker hands
# them out one basic.get at a time, about a millisecond each.
EXAMINED_AT_MOST = 1_000
REPLAYED_IDS_AT_MOST = 1_000
RETRY_AFTER_SECONDS = "5"

MessageId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ParkedEntry(BaseModel):
    position: int = Field(description="1 = the oldest parked")
    message_id: str
    type: str | None = Field(description="The envelope's type, when the body is one")
    reason: str
    reason_code: str = Field(description="The reason's first words, which the counts go by")
    parked_at: datetime | None
    routing_key: str
    attempts: int


class ReasonCount(BaseModel):
    reason_code: str
    count: int


class ParkedListing(BaseModel):
    service: str
    queue: str
    waiting: int = Field(description="Parked messages ready in the queue, as the broker counts")
    examined: int = Field(description="How many the counts by reason cover (the oldest first)")
    by_reason: list[ReasonCount]
    messages: list[ParkedEntry] = Field(description="The oldest `limit` of those examined")


class ReplayRequest(BaseModel):
    """Which parked messages go back: these ids, these reasons' ones, or those that are both."""

    model_config = ConfigDict(extra="forbid")

    message_ids: list[MessageId] | None = Field(default=None, max_length=REPLAYED_IDS_AT_MOST)
    reason_code: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None

    @model_validator(mode="after")
    def names_something(self) -> ReplayRequest:
        if not self.message_ids and self.reason_code is None:
            raise ValueError("name the messages to replay: message_ids, reason_code or both")
        return self

    def chooses(self, message: parking.ParkedMessage) -> bool:
        if self.message_ids and message.message_id not in self.message_ids:
            return False
        return self.reason_code is None or message.reason_code == self.reason_code


class ReplayResult(BaseModel):
    service: str
    replayed: list[str] = Field(description="The ids put back in the inbox, oldest first")
    waiting: int = Field(description="Parked messages still ready after the replay")


class ParkedMessages:
    """The parking queue of the service this runtime runs, looked at and replayed one at a time."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        settings = runtime.settings
        if not isinstance(settings, StaffKeySettings):
            raise TypeError(f"{settings.service_name}'s settings have no staff keys")
        self._runtime = runtime
        self._service = settings.service_name
        self._one_at_a_time = asyncio.Lock()

    async def listing(self, limit: int) -> ParkedListing:
        async with self._one_at_a_time, self._side_channel() as (channel, _):
            ready = await parking.waiting(channel, self._service)
            examined = await parking.peek(channel, self._service, EXAMINED_AT_MOST)
        return ParkedListing(
            service=self._service,
            queue=dead_queue(self._service),
            waiting=max(ready, len(examined)),
            examined=len(examined),
            by_reason=[
                ReasonCount(reason_code=code, count=count)
                for code, count in parking.count_by_reason(examined).items()
            ],
            messages=[
                ParkedEntry.model_validate(message, from_attributes=True)
                for message in examined[:limit]
            ],
        )

    async def replay(self, request: ReplayRequest) -> ReplayResult:
        async with self._one_at_a_time, self._side_channel() as (channel, publisher):
            replayed = await parking.replay(channel, publisher, self._service, request.chooses)
            left = await parking.waiting(channel, self._service)
        return ReplayResult(
            service=self._service, replayed=[m.message_id for m in replayed], waiting=left
        )

    def _side_channel(self) -> Any:
        broker = self._runtime.broker
        if broker is None or not broker.is_open:
            raise ApiProblem(
                503,
                "broker_unavailable",
                "the broker is not reachable from this service now",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        return broker.side_channel(app_id=self._service)


def parked_router(parked: ParkedMessages) -> APIRouter:
    """The operator looks and replays; the viewer only looks."""
    router = APIRouter(
        prefix="/v1/parked",
        tags=["parked messages"],
        dependencies=[Depends(authenticated_staff)],
        responses={
            401: {"description": "no key, or neither the operator's nor the viewer's"},
            403: {"description": "the viewer's key, for a replay"},
            503: {"description": "OPERATOR_API_KEY is not configured, or the broker is away"},
        },
    )

    @router.get(
        "",
        summary="The parked messages: how many, counted by reason, the oldest listed",
        response_model=ParkedListing,
    )
    async def listing(limit: Annotated[int, Query(ge=0, le=200)] = 50) -> ParkedListing:
        return await parked.listing(limit)

    @router.post(
        "/replay",
        summary="Put the chosen parked messages back in the inbox, each once",
        response_model=ReplayResult,
    )
    async def replay(request: ReplayRequest) -> ReplayResult:
        return await parked.replay(request)

    return router
