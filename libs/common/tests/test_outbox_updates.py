"""The embedded outbox's update documents: events ride in the same single-document write."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from gridloop_common.messaging import Outgoing
from gridloop_common.outbox import PENDING, outbox_fields, outbox_indexes, with_outbox

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _outgoing(n: int) -> Outgoing:
    return Outgoing(
        message_id=f"event-{n}",
        exchange="gridloop.events",
        routing_key="case.dispatched.city-mgmt",
        body=f'{{"id": "event-{n}"}}'.encode(),
        correlation_id="report-1",
        headers={"x-n": str(n)},
    )


def _document(n: int) -> dict[str, object]:
    return {
        "id": f"event-{n}",
        "exchange": "gridloop.events",
        "routing_key": "case.dispatched.city-mgmt",
        "body": f'{{"id": "event-{n}"}}',
        "correlation_id": "report-1",
        "headers": {"x-n": str(n)},
    }


def test_outbox_fields_for_a_new_document_carry_the_events_and_the_pending_flag() -> None:
    outgoings = [_outgoing(1), _outgoing(2)]
    fields = outbox_fields(outgoings, NOW)
    assert fields == {"outbox": [_document(1), _document(2)], PENDING: True, "outbox_at": NOW}
    assert outgoings == [_outgoing(1), _outgoing(2)]


def test_with_outbox_adds_push_and_pending_to_a_state_change() -> None:
    update = {"$set": {"state": "accepted", "accepted_at": NOW}}
    merged = with_outbox(update, [_outgoing(1)], NOW)
    assert merged == {
        "$set": {"state": "accepted", "accepted_at": NOW, PENDING: True, "outbox_at": NOW},
        "$push": {"outbox": {"$each": [_document(1)]}},
    }


def test_with_outbox_keeps_other_operators_and_other_pushes() -> None:
    update = {
        "$push": {"history": {"at": NOW, "what": "accepted"}},
        "$inc": {"version": 1},
        "$unset": {"lease": ""},
    }
    merged = with_outbox(update, [_outgoing(1), _outgoing(2)], NOW)
    assert merged == {
        "$push": {
            "history": {"at": NOW, "what": "accepted"},
            "outbox": {"$each": [_document(1), _document(2)]},
        },
        "$inc": {"version": 1},
        "$unset": {"lease": ""},
        "$set": {PENDING: True, "outbox_at": NOW},
    }


def test_with_outbox_does_not_mutate_the_callers_update() -> None:
    update = {"$set": {"state": "accepted"}, "$push": {"history": {"what": "accepted"}}}
    before = copy.deepcopy(update)
    with_outbox(update, [_outgoing(1)], NOW)
    assert update == before


def test_with_outbox_can_be_applied_to_the_same_base_update_twice_independently() -> None:
    base = {"$set": {"state": "accepted"}}
    first = with_outbox(base, [_outgoing(1)], NOW)
    second = with_outbox(base, [_outgoing(2)], NOW)
    assert first["$push"]["outbox"]["$each"] == [_document(1)]
    assert second["$push"]["outbox"]["$each"] == [_document(2)]
    assert base == {"$set": {"state": "accepted"}}


def test_stored_outbox_entry_restores_the_identical_message() -> None:
    original = _outgoing(3)
    assert Outgoing.from_document(original.to_document()) == original


def test_outbox_index_serves_the_sweep_query() -> None:
    (index,) = outbox_indexes("cases")
    assert index.collection == "cases"
    assert list(index.keys) == [(PENDING, 1), ("outbox_at", 1)]
