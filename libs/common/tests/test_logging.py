"""Rendered JSON log lines never carry a resident's phone, ID-card number or name."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from pydantic import BaseModel

from gridloop_common.logging import REDACTED, configure_logging, redact_text

MOBILE = "13812345678"
OTHER_MOBILE = "13987654321"
ID_CARD = "34250119900101123X"
NAME = "张三"
SECRETS = (MOBILE, OTHER_MOBILE, ID_CARD, ID_CARD.lower(), NAME)

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def rendered() -> Iterator[tuple[structlog.stdlib.BoundLogger, Lines, io.StringIO]]:
    """configure_logging(json) writing into a buffer; the previous set-up is restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("test-service", "INFO", "json")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    try:
        yield structlog.stdlib.get_logger("gridloop.test"), lines, buffer
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _assert_clean(buffer: io.StringIO) -> None:
    text = buffer.getvalue()
    assert text, "nothing was logged"
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"personal data reached the log: {leaked} in {text!r}"


def test_fields_named_like_personal_data_are_redacted_whatever_their_value(rendered: Any) -> None:
    log, lines, buffer = rendered
    log.info("report_stored", name=NAME, phone=MOBILE, caller_phone=OTHER_MOBILE, case_id="c-1")
    _assert_clean(buffer)
    (line,) = lines()
    assert line["name"] == line["phone"] == line["caller_phone"] == REDACTED
    assert line["case_id"] == "c-1"
    assert line["event"] == "report_stored"
    assert line["service"] == "test-service"


def test_field_names_are_matched_case_insensitively(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info("report_stored", Name=NAME, CALLER_PHONE=MOBILE)
    _assert_clean(buffer)


def test_mobile_and_id_card_numbers_in_free_text_are_redacted(rendered: Any) -> None:
    log, lines, buffer = rendered
    # Real report text: Chinese punctuation right against the digits.
    text = f"请联系{MOBILE}，身份证{ID_CARD}，或 {ID_CARD.lower()}"
    log.info("report_text", description=text)
    _assert_clean(buffer)
    assert lines()[0]["description"].count(REDACTED) == 3


def test_event_text_itself_is_redacted(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info(f"caller {MOBILE} rang")  # not our style, but must still not leak
    _assert_clean(buffer)


def test_personal_data_nested_in_dicts_and_lists_is_redacted(rendered: Any) -> None:
    log, lines, buffer = rendered
    log.info(
        "delivery_planned",
        recipient={
            "reporter": {"name": NAME, "contact_phone": MOBILE, "grid_id": "G-0042"},
            "notes": [f"tel {OTHER_MOBILE}", {"phone": MOBILE}],
            "ids": (ID_CARD,),
        },
    )
    _assert_clean(buffer)
    recipient = lines()[0]["recipient"]
    assert recipient["reporter"]["name"] == REDACTED
    assert recipient["reporter"]["grid_id"] == "G-0042"


def test_bound_context_is_redacted_too(rendered: Any) -> None:
    log, _, buffer = rendered
    structlog.contextvars.bind_contextvars(caller_phone=MOBILE, correlation_id="corr-1")
    log.info("message_handled")
    _assert_clean(buffer)
    assert "corr-1" in buffer.getvalue()


def test_exception_messages_are_redacted_in_the_rendered_traceback(rendered: Any) -> None:
    log, lines, buffer = rendered
    try:
        raise ValueError(f"caller {MOBILE} with id card {ID_CARD} not found")
    except ValueError:
        log.exception("handler_failed", case_id="c-7")
    _assert_clean(buffer)
    (line,) = lines()
    assert "ValueError" in line["exception"]
    assert REDACTED in line["exception"]
    assert line["case_id"] == "c-7"


def test_stdlib_loggers_go_through_the_same_redaction(rendered: Any) -> None:
    _, lines, buffer = rendered
    logging.getLogger("uvicorn.error").warning("client %s sent %s", MOBILE, ID_CARD)
    try:
        raise RuntimeError(f"lookup of {OTHER_MOBILE} failed")
    except RuntimeError:
        logging.getLogger("pymongo").error("query failed", exc_info=True)
    _assert_clean(buffer)
    first, second = lines()
    assert first["logger"] == "uvicorn.error"
    assert first["service"] == "test-service"
    assert "RuntimeError" in second["exception"]


def test_ordinary_ids_and_timestamps_survive(rendered: Any) -> None:
    log, lines, buffer = rendered
    values: dict[str, Any] = {
        "case_id": "case-7f3a9c2e-1b4d-4e8a-9f00-123456789abc",
        "order_id": "ord-20261102-0001",
        "event_id": "0b8c2f5e-3c1e-5a7b-8d9e-0f1a2b3c4d5e",
        "mongo_id": "674512345678901234567890",
        "sent_at_ms": 1732600000000,
        "note": "sent at 1732600000000, epoch 1732600000, hotline 12345",
        "grid_id": "G-3418",
        "late_seconds": 28800.5,
    }
    log.info("case_dispatched", **values)
    (line,) = lines()
    for key, value in values.items():
        assert line[key] == value, f"{key} was altered: {line[key]!r}"
    assert REDACTED not in buffer.getvalue()


def test_redact_text_leaves_longer_digit_runs_alone() -> None:
    assert redact_text("1732600000000") == "1732600000000"  # 13-digit ms timestamp
    assert redact_text("113812345678") == "113812345678"  # 12 digits: not a mobile number
    assert redact_text("12812345678") == "12812345678"  # 12x is no mobile prefix
    assert redact_text(f"a{MOBILE}b") == f"a{REDACTED}b"


# --- regressions: gaps found by these tests and fixed in logging.py ---


def test_mobile_number_logged_as_an_integer_is_redacted(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info("callback_scheduled", reporter=int(MOBILE))
    _assert_clean(buffer)


def test_mobile_number_used_as_a_dict_key_is_redacted(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info("deliveries_sent", results={MOBILE: "ok", OTHER_MOBILE: "failed"})
    _assert_clean(buffer)


def test_mobile_number_with_country_code_is_redacted(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info("sms_sent", note=f"to +86{MOBILE} and 86{OTHER_MOBILE}")
    _assert_clean(buffer)


class _Reporter(BaseModel):
    name: str
    phone: str


@dataclass
class _Contact:
    name: str


def test_name_fields_of_models_and_dataclasses_are_redacted(rendered: Any) -> None:
    log, _, buffer = rendered
    log.info("report_parsed", report=_Reporter(name=NAME, phone=MOBILE), who=_Contact(NAME))
    _assert_clean(buffer)


def test_grouped_mobile_numbers_and_prefixed_id_cards_are_redacted() -> None:
    assert redact_text("call 138 1234 5678 or 138-1234-5678") == f"call {REDACTED} or {REDACTED}"
    assert redact_text("ID34250119900101123X") == f"ID{REDACTED}"
