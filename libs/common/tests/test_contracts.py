"""Contracts: routing keys, bindings that catch them, frozen and tolerant models, UTC times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from gridloop_common.contracts import (
    ALL_MESSAGES,
    BY_TYPE,
    EVENTS_EXCHANGE,
    ORDERS_EXCHANGE,
    REPLIES_EXCHANGE,
    AcceptOrder,
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseEscalated,
    CaseExtended,
    CaseFlagged,
    CaseRejected,
    CaseReopened,
    CaseReplyRefused,
    CaseResolvedLocally,
    CompleteOrder,
    DispatchWatermark,
    GeoPoint,
    Message,
    OrderReply,
    RejectOrder,
    ReporterErased,
    ReportLinked,
    ReportProgress,
    ReportReceived,
    RequestExtension,
    ScoringPeriodClosed,
    SlaBreached,
    SlaMet,
    SlaSettledLate,
    SlaWarning,
    WorkOrder,
)

WHEN = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
CASE = {
    "case_id": "case-1",
    "order_id": "order-1",
    "department": "city-mgmt",
    "category_code": "road-damage",
    "grid_id": "G-0001",
}
SLA = {
    "order_id": "order-1",
    "case_id": "case-1",
    "department": "city-mgmt",
    "deadline": WHEN,
}


def _examples() -> list[tuple[Message, str]]:
    """One instance of every contract with the routing key it must carry."""
    return [
        (
            ReportReceived(
                report_id="r-1",
                channel="chat_group",
                grid_id="G-0001",
                category_code="garbage",
                description="垃圾未清运",
                reported_at=WHEN,
            ),
            "report.received.chat_group",
        ),
        (
            ReportLinked(
                report_id="r-2",
                linked_to="r-1",
                channel="hotline",
                grid_id="G-0001",
                category_code="garbage",
                reported_at=WHEN,
                reason="same category within 12 m",
            ),
            "report.linked.hotline",
        ),
        (
            ReporterErased(erasure_id="E-1", reporter_id="P-abc", erased_at=WHEN),
            "reporter.erased",
        ),
        (
            CaseDispatched(
                **CASE,
                dispatched_at=WHEN,
                accept_by=WHEN + timedelta(hours=8),
                complete_by=WHEN + timedelta(hours=72),
            ),
            "case.dispatched.city-mgmt",
        ),
        (CaseAccepted(**CASE, accepted_at=WHEN), "case.accepted.city-mgmt"),
        (CaseRejected(**CASE, rejected_at=WHEN, reason_code="not-ours"), "case.rejected.city-mgmt"),
        (CaseCompleted(**CASE, completed_at=WHEN), "case.completed.city-mgmt"),
        (CaseClosed(**CASE, closed_at=WHEN, satisfied=True), "case.closed.city-mgmt"),
        (
            SlaWarning(**SLA, clock="accept", fired_at=WHEN, threshold=0.75),
            "sla.warning.accept.city-mgmt",
        ),
        (
            SlaBreached(**SLA, clock="accept", fired_at=WHEN, late_seconds=1.0),
            "sla.breached.accept.city-mgmt",
        ),
        (SlaMet(**SLA, clock="complete", met_at=WHEN), "sla.met.complete.city-mgmt"),
        (
            SlaSettledLate(**SLA, clock="accept", settled_at=WHEN, late_seconds=3600.0),
            "sla.settled_late.accept.city-mgmt",
        ),
        (
            ScoringPeriodClosed(
                period="2026-Q4",
                granularity="quarter",
                closed_at=WHEN,
                excellent_cases=(),
                top_performers=(),
            ),
            "scoring.period_closed.quarter",
        ),
        (DispatchWatermark(published_until=WHEN), "dispatch.watermark"),
        (
            WorkOrder(
                order_id="order-1",
                case_id="case-1",
                department="city-mgmt",
                category_code="road-damage",
                description="路面坑洼",
                grid_id="G-0001",
                dispatched_at=WHEN,
                accept_by=WHEN + timedelta(hours=8),
                complete_by=WHEN + timedelta(hours=72),
            ),
            "city-mgmt",
        ),
        (AcceptOrder(order_id="order-1", department="city-mgmt"), "city-mgmt.accept"),
        (
            RejectOrder(order_id="order-1", department="city-mgmt", reason_code="wrong-area"),
            "city-mgmt.reject",
        ),
        (
            ReportProgress(order_id="order-1", department="city-mgmt", note="材料已到"),
            "city-mgmt.progress",
        ),
        (
            CompleteOrder(order_id="order-1", department="city-mgmt", result="已修复"),
            "city-mgmt.complete",
        ),
        (
            RequestExtension(
                order_id="order-1",
                department="city-mgmt",
                reason="等待材料",
                proposed_complete_by=WHEN + timedelta(days=5),
            ),
            "city-mgmt.request-extension",
        ),
        (
            CaseExtended(
                **CASE,
                extended_at=WHEN,
                previous_complete_by=WHEN,
                complete_by=WHEN + timedelta(days=2),
            ),
            "case.extended.city-mgmt",
        ),
        (
            CaseReopened(**CASE, reopened_at=WHEN, previous_order_id="order-0", reopens=1),
            "case.reopened.city-mgmt",
        ),
        (CaseFlagged(**CASE, flagged_at=WHEN, bounces=3, threshold=2), "case.flagged.city-mgmt"),
        (
            CaseReplyRefused(
                **{**CASE, "department": "water"},
                refused_at=WHEN,
                reply_type="accept",
                owner_department="city-mgmt",
                reason="not_your_order",
            ),
            "case.reply_refused.water",
        ),
        (
            CaseEscalated(
                case_id="case-1",
                category_code="neighbour-dispute",
                grid_id="G-0001",
                township_id="twp-xijin",
                escalated_at=WHEN,
            ),
            "case.escalated.twp-xijin",
        ),
        (
            CaseResolvedLocally(
                case_id="case-1",
                category_code="neighbour-dispute",
                grid_id="G-0001",
                resolved_at=WHEN,
                resolution="调解成功",
            ),
            "case.resolved_locally.unlocated",
        ),
    ]


EXAMPLES = _examples()


def _topic_matches(pattern: str, key: str) -> bool:
    """RabbitMQ topic matching: `*` is exactly one word, `#` zero or more words."""

    def match(words: list[str], parts: list[str]) -> bool:
        if not words:
            return not parts
        if words[0] == "#":
            return any(match(words[1:], parts[i:]) for i in range(len(parts) + 1))
        return bool(parts) and words[0] in ("*", parts[0]) and match(words[1:], parts[1:])

    return match(pattern.split("."), key.split("."))


def _id(value: object) -> str:
    return type(value).__name__ if isinstance(value, Message) else str(value)


def test_examples_cover_every_contract() -> None:
    assert {type(message) for message, _ in EXAMPLES} == set(ALL_MESSAGES)


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_routing_key(message: Message, key: str) -> None:
    assert message.routing_key() == key


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_consumers_binding_receives_the_routing_key(message: Message, key: str) -> None:
    if message.EXCHANGE == ORDERS_EXCHANGE:
        # Direct exchange: each department's queue is bound by its own code.
        assert key == message.model_dump()["department"]
    else:
        assert _topic_matches(message.BINDING, key), f"{message.BINDING} does not catch {key}"


def test_topic_matcher_follows_rabbitmq_rules() -> None:
    assert _topic_matches("sla.breached.#", "sla.breached.accept.city-mgmt")
    assert _topic_matches("sla.breached.#", "sla.breached")
    assert not _topic_matches("sla.breached.#", "sla.breachedx.accept")
    assert _topic_matches("*.accept", "city-mgmt.accept")
    assert not _topic_matches("*.accept", "a.b.accept")


def test_sla_bindings_can_select_one_clock_or_department() -> None:
    breach = SlaBreached(**SLA, clock="accept", fired_at=WHEN, late_seconds=5.0)
    assert _topic_matches("sla.breached.accept.*", breach.routing_key())
    assert _topic_matches("sla.*.*.city-mgmt", breach.routing_key())
    assert not _topic_matches("sla.breached.complete.*", breach.routing_key())


def test_each_contract_names_its_exchange() -> None:
    exchanges = {type(message): message.EXCHANGE for message, _ in EXAMPLES}
    assert exchanges[WorkOrder] == ORDERS_EXCHANGE
    assert exchanges[AcceptOrder] == REPLIES_EXCHANGE
    assert {
        exchange
        for kind, exchange in exchanges.items()
        if kind is not WorkOrder and not issubclass(kind, OrderReply)
    } == {EVENTS_EXCHANGE}


def test_types_are_unique_versioned_and_registered() -> None:
    types = [message.TYPE for message in ALL_MESSAGES]
    assert len(set(types)) == len(types)
    assert all(re.fullmatch(r"org\.gridloop\.[a-z_.]+\.v\d+", t) for t in types), types
    assert all(BY_TYPE[message.TYPE] is message for message in ALL_MESSAGES)


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_contracts_are_frozen(message: Message, key: str) -> None:
    field = next(iter(type(message).model_fields))
    with pytest.raises(ValidationError):
        setattr(message, field, "changed")
    assert message.routing_key() == key


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_contracts_survive_a_json_round_trip(message: Message, key: str) -> None:
    data = message.model_dump(mode="json")
    assert type(message).model_validate(data) == message


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_fields_from_a_newer_producer_are_ignored(message: Message, key: str) -> None:
    data: dict[str, Any] = {**message.model_dump(mode="json"), "added_in_v1_1": "x"}
    assert type(message).model_validate(data) == message


@pytest.mark.parametrize(("message", "key"), EXAMPLES, ids=_id)
def test_missing_required_field_is_refused(message: Message, key: str) -> None:
    kind = type(message)
    required = next(name for name, info in kind.model_fields.items() if info.is_required())
    data = message.model_dump(mode="json")
    del data[required]
    with pytest.raises(ValidationError):
        kind.model_validate(data)


def test_naive_times_in_contracts_become_utc() -> None:
    accepted = CaseAccepted(**CASE, accepted_at=datetime(2026, 11, 2, 9, 30))
    assert accepted.accepted_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    parsed = CaseAccepted.model_validate({**CASE, "accepted_at": "2026-11-02T17:30:00+08:00"})
    assert parsed.accepted_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert parsed.accepted_at.tzinfo == UTC


def test_subject_is_the_case_the_report_or_for_replies_the_order() -> None:
    subjects = {type(message): message.subject() for message, _ in EXAMPLES}
    assert {s for kind, s in subjects.items() if issubclass(kind, OrderReply)} == {"order-1"}
    # No case exists yet: a report's subject is the report (a linked one, the report it supports).
    assert subjects[ReportReceived] == "r-1"
    assert subjects[ReportLinked] == "r-1"
    assert {
        s
        for kind, s in subjects.items()
        if not issubclass(kind, OrderReply)
        and kind
        not in (
            ReportReceived,
            ReportLinked,
            ScoringPeriodClosed,
            DispatchWatermark,
            ReporterErased,
        )
    } == {"case-1"}
    assert subjects[ScoringPeriodClosed] == "2026-Q4"  # a period closes, not a case
    assert subjects[DispatchWatermark] is None  # about every case dispatch holds, not one
    assert subjects[ReporterErased] == "P-abc"  # a reporter, not any one case of theirs


def test_sla_clock_and_report_channel_are_closed_vocabularies() -> None:
    with pytest.raises(ValidationError):
        SlaMet(**SLA, clock="lunch", met_at=WHEN)
    with pytest.raises(ValidationError):
        ReportReceived(
            report_id="r-1",
            channel="fax",
            grid_id="G-1",
            category_code="garbage",
            description="x",
            reported_at=WHEN,
        )


def test_geo_point_is_range_checked() -> None:
    assert GeoPoint(lat=30.63, lon=118.98).lat == 30.63
    with pytest.raises(ValidationError):
        GeoPoint(lat=91, lon=0)
    with pytest.raises(ValidationError):
        GeoPoint(lat=0, lon=-181)
