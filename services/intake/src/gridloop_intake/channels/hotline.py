"""Calls to the 12345 hotline: an address in words, placed as precisely as the words allow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from gridloop_common.contracts import ReplyAddress
from gridloop_common.registry import Registry
from gridloop_intake.channels.common import (
    Description,
    Identifier,
    category_from_text,
    known_category,
)
from gridloop_intake.locating import place_address
from gridloop_intake.submission import Contact, Submission


class HotlineCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Identifier
    caller_phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")]
    address_text: Annotated[str, StringConstraints(max_length=500)] = ""
    description: Description
    # The operator may pick a category; otherwise it is classified from the description.
    category_code: Identifier | None = None
    caller_name: Annotated[str, StringConstraints(max_length=64)] | None = None


def to_submission(request: HotlineCall, registry: Registry, now: datetime) -> Submission:
    category = (
        known_category(request.category_code)
        if request.category_code
        else category_from_text(request.description)
    )
    return Submission(
        channel="hotline",
        placement=place_address(registry, request.address_text),
        category_code=category,
        description=request.description,
        received_at=now,
        contact=Contact(phone=request.caller_phone, name=request.caller_name),
        reply_to=ReplyAddress(channel="sms", address=request.caller_phone),
        external_ref=f"call:{request.call_id}",
    )
