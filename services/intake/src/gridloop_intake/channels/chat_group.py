"""Messages from a grid's chat group that mention the resident assistant ("@居民助手")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from gridloop_common.clock import ensure_utc
from gridloop_common.contracts import ReplyAddress
from gridloop_common.registry import Registry
from gridloop_intake.channels.common import Description, Identifier, category_from_text
from gridloop_intake.locating import place_grid
from gridloop_intake.submission import Problem, Submission, SubmissionRejected

# The seed names the assistant both ways ("居民助手", "居民助理"); residents type either.
# The full-width at sign (U+FF20) is what Chinese input methods type.
MENTIONS = ("@居民助手", "@居民助理", "＠居民助手", "＠居民助理")  # noqa: RUF001


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: Identifier
    sender_id: Identifier
    text: Description
    sent_at: datetime | None = None
    message_id: Identifier | None = None


def to_submission(request: ChatMessage, registry: Registry, now: datetime) -> Submission:
    group = registry.chat_group(request.group_id)
    if group is None:
        raise SubmissionRejected(
            Problem("group_id", f"unknown chat group {request.group_id!r}"),
            code="unknown_chat_group",
        )
    if not any(mention in request.text for mention in MENTIONS):
        raise SubmissionRejected(
            Problem("text", "the message does not mention @居民助手, so it is not a report"),
            code="not_addressed",
        )
    text = request.text
    for mention in MENTIONS:
        text = text.replace(mention, " ")
    text = " ".join(text.split())
    if not text:
        raise SubmissionRejected(Problem("text", "the message says nothing beyond the mention"))
    return Submission(
        channel="chat_group",
        placement=place_grid(registry, group.grid_id),
        category_code=category_from_text(text),
        description=text,
        received_at=ensure_utc(request.sent_at) if request.sent_at else now,
        chat_group_id=group.id,
        reply_to=ReplyAddress(channel="chat_group", address=group.id),
        # The sender's chat id is pseudonymised like a phone number (see contacts.py).
        external_ref=f"chat:{request.sender_id}",
    )
