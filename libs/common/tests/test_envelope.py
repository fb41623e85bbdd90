"""The CloudEvents envelope: wire round trip, tolerance, validation and stable derived ids."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from gridloop_common.contracts import BY_TYPE, CaseDispatched
from gridloop_common.envelope import CONTENT_TYPE, CloudEvent, derived_id, new_event_id
from gridloop_common.messaging import envelope

WHEN = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _wire(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "3f0f4c1e-9a53-4a57-9d43-2f7bbcd7c001",
        "source": "/gridloop/dispatch",
        "type": "org.gridloop.case.dispatched.v1",
        "time": "2026-11-02T01:00:00Z",
        "subject": "case-1",
        "datacontenttype": "application/json",
        "correlationid": "report-1",
        "causationid": "event-0",
        "data": {"case_id": "case-1"},
    }
    event.update(overrides)
    return event


def _dispatched() -> CaseDispatched:
    return CaseDispatched(
        case_id="case-1",
        order_id="order-1",
        department="city-mgmt",
        category_code="road-damage",
        grid_id="G-0001",
        dispatched_at=WHEN,
        accept_by=WHEN + timedelta(hours=8),
        complete_by=WHEN + timedelta(hours=72),
    )


def test_cloud_event_survives_a_json_round_trip_unchanged() -> None:
    event = CloudEvent.model_validate(_wire())
    again = CloudEvent.model_validate_json(event.to_json())
    assert again == event
    assert again.time == WHEN


def test_to_json_writes_cloudevents_attribute_names_and_omits_absent_ones() -> None:
    event = CloudEvent(id="e-1", source="/gridloop/intake", type="t.v1", time=WHEN, data={})
    wire = json.loads(event.to_json())
    assert wire == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/gridloop/intake",
        "type": "t.v1",
        "time": "2026-11-02T01:00:00Z",
        "datacontenttype": "application/json",
        "data": {},
    }


def test_unknown_extension_attributes_are_tolerated() -> None:
    event = CloudEvent.model_validate(_wire(traceparent="00-abc-def-01", partitionkey="x", n=3))
    assert event.id == _wire()["id"]
    assert "traceparent" not in json.loads(event.to_json())


@pytest.mark.parametrize("missing", ["id", "source", "type", "time", "data"])
def test_missing_required_attribute_is_a_validation_error(missing: str) -> None:
    wire = _wire()
    del wire[missing]
    with pytest.raises(ValidationError) as error:
        CloudEvent.model_validate(wire)
    assert error.value.errors()[0]["loc"] == (missing,)


@pytest.mark.parametrize("attribute", ["id", "source", "type"])
def test_empty_required_string_is_a_validation_error(attribute: str) -> None:
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(_wire(**{attribute: ""}))


def test_other_spec_versions_are_refused() -> None:
    with pytest.raises(ValidationError, match="specversion"):
        CloudEvent.model_validate(_wire(specversion="0.3"))


def test_naive_time_is_taken_as_utc() -> None:
    from_python = CloudEvent.model_validate(_wire(time=datetime(2026, 11, 2, 1, 0)))
    from_json = CloudEvent.model_validate_json(json.dumps(_wire(time="2026-11-02T01:00:00")))
    for event in (from_python, from_json):
        assert event.time == WHEN
        assert event.time.utcoffset() == timedelta(0)


def test_offset_time_is_converted_to_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = CloudEvent.model_validate(_wire(time=datetime(2026, 11, 2, 9, 0, tzinfo=shanghai)))
    assert event.time == WHEN
    assert event.time.tzinfo == UTC
    assert json.loads(event.to_json())["time"] == "2026-11-02T01:00:00Z"


def test_envelope_is_frozen() -> None:
    event = CloudEvent.model_validate(_wire())
    with pytest.raises(ValidationError):
        event.id = "other"  # type: ignore[misc]


def test_derived_id_is_stable_for_the_same_inputs() -> None:
    first = derived_id("timer", "order-1", "accept")
    assert first == derived_id("timer", "order-1", "accept")
    assert uuid.UUID(first).version == 5


def test_derived_id_differs_when_any_input_differs() -> None:
    ids = {
        derived_id("timer", "order-1", "accept"),
        derived_id("timer", "order-1", "complete"),
        derived_id("timer", "order-2", "accept"),
        derived_id("fact", "order-1", "accept"),
        derived_id("timer", "accept", "order-1"),
        derived_id("timer", "order-1"),
    }
    assert len(ids) == 6


def test_derived_id_is_unambiguous_when_parts_contain_the_separator() -> None:
    assert derived_id("n", "a:b", "c") != derived_id("n", "a", "b:c")
    assert derived_id("timer:accept", "order-1") != derived_id("timer", "accept", "order-1")


def test_new_event_ids_are_unique_uuids() -> None:
    ids = {new_event_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_contract_wrapped_by_envelope_decodes_back_to_the_same_contract() -> None:
    contract = _dispatched()
    outgoing = envelope(contract, source="/gridloop/dispatch", time=WHEN, correlation_id="report-1")
    assert outgoing.content_type == CONTENT_TYPE
    assert (outgoing.exchange, outgoing.routing_key) == (
        "gridloop.events",
        "case.dispatched.city-mgmt",
    )
    event = CloudEvent.model_validate_json(outgoing.body)
    assert event.id == outgoing.message_id
    assert event.type == CaseDispatched.TYPE
    assert event.subject == "case-1"
    assert event.correlationid == "report-1"
    assert BY_TYPE[event.type].model_validate(event.data) == contract


def test_envelope_with_a_given_event_id_is_byte_identical_on_resend() -> None:
    first = envelope(_dispatched(), source="/gridloop/dispatch", time=WHEN, event_id="e-1")
    again = envelope(_dispatched(), source="/gridloop/dispatch", time=WHEN, event_id="e-1")
    assert first == again
