"""Property-based: no input reaching a consumer raises past the decoder except as a refusal.

Whatever bytes arrive (the broker takes anything a producer sends), decoding the envelope and
then the payload of any known type either succeeds or raises pydantic's ValidationError, and the
parking reason made from it is a short, non-empty text: never a crash of the consumer.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gridloop_common.contracts import ALL_MESSAGES, BY_TYPE
from gridloop_common.envelope import CloudEvent
from gridloop_common.messaging.consumer import _reason

EXAMPLES = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Envelopes that look almost right: the known attributes, a known or unknown type, any data.
almost_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "specversion": st.sampled_from(["1.0", "0.3", 1.0]) | json_values,
        "id": st.text(max_size=40) | json_values,
        "source": st.text(max_size=40) | json_values,
        "type": st.sampled_from(sorted(BY_TYPE)) | st.text(max_size=30),
        "time": st.sampled_from(["2026-12-03T08:00:00Z", "yesterday"]) | json_values,
        "datacontenttype": st.just("application/json") | json_values,
        "data": json_values,
    },
)


def _decode(body: bytes) -> object:
    """What the consumer does with a body: the envelope, then the payload of its type."""
    event = CloudEvent.model_validate_json(body)
    contract = BY_TYPE.get(event.type)
    return None if contract is None else contract.model_validate(event.data)


def _refused_cleanly(body: bytes) -> None:
    try:
        _decode(body)
    except ValidationError as error:
        reason = _reason(error)
        assert reason.startswith("invalid message: ")
        assert 0 < len(reason) <= 1000


@EXAMPLES
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused_with_a_reason(body: bytes) -> None:
    _refused_cleanly(body)


@EXAMPLES
@given(almost_envelopes)
def test_almost_right_envelopes_decode_or_are_refused_with_a_reason(
    envelope: dict[str, Any],
) -> None:
    _refused_cleanly(json.dumps(envelope).encode())


@EXAMPLES
@given(st.sampled_from(ALL_MESSAGES), st.dictionaries(st.text(max_size=20), json_values))
def test_every_contract_takes_or_refuses_any_payload(
    contract: type[Any], payload: dict[str, Any]
) -> None:
    try:
        contract.model_validate(payload)
    except ValidationError as error:
        assert _reason(error)
