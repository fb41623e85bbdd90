"""Which parked messages a replay request chooses, and which requests are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridloop_common.messaging.parked import ParkedMessage
from gridloop_common.parked_api import ReplayRequest


def parked(message_id: str, reason: str) -> ParkedMessage:
    return ParkedMessage(
        position=1,
        message_id=message_id,
        type=None,
        reason=reason,
        parked_at=None,
        exchange="gridloop.events",
        routing_key="report.received.native",
        attempts=4,
        body=b"{}",
        headers={},
    )


OUTAGE = parked("m-1", "outage: the database was away")
INVALID = parked("m-2", "invalid message: data.report_id: Field required")


def test_a_reason_chooses_every_message_parked_for_it_and_no_other() -> None:
    request = ReplayRequest(reason_code="outage")
    assert [m for m in (OUTAGE, INVALID) if request.chooses(m)] == [OUTAGE]


def test_ids_choose_those_messages_whatever_their_reason() -> None:
    request = ReplayRequest(message_ids=["m-2", "m-9"])
    assert [m for m in (OUTAGE, INVALID) if request.chooses(m)] == [INVALID]


def test_ids_and_a_reason_choose_only_what_is_both() -> None:
    request = ReplayRequest(message_ids=["m-1", "m-2"], reason_code="invalid message")
    assert [m for m in (OUTAGE, INVALID) if request.chooses(m)] == [INVALID]


@pytest.mark.parametrize(
    "body",
    [{}, {"message_ids": []}, {"reason_code": ""}, {"reason_code": "x", "everything": True}],
)
def test_a_request_that_names_nothing_or_more_than_it_may_is_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate(body)
