"""structlog set-up: JSON to stdout off a TTY, console on a TTY, residents' identifiers redacted."""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import BaseModel
from structlog.typing import EventDict, Processor, WrappedLogger

# Chinese mobile numbers: 1[3-9] and 9 more digits, optionally behind +86/86 and written in
# 3-4-4 groups with spaces or hyphens; not part of a longer digit run.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
# Resident ID-card numbers: 17 digits and a digit or X, not part of a longer digit run.
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# Keys whose values identify a resident, wherever they appear in a log event.
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "resident_name",
        "reporter_name",
        "contact_name",
        "caller_name",
        "first_name",
        "last_name",
        "phone",
        "mobile",
        "caller_phone",
        "contact_phone",
        "reporter_phone",
        "phone_number",
        "email",
        "contact_email",
        "id_card",
        "contact",
        "address_string",
    }
)
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    return _ID_CARD.sub(REDACTED, _MOBILE.sub(REDACTED, text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # A phone number logged as a number is still a phone number.
        return REDACTED if redact_text(str(value)) != str(value) else value
    if isinstance(value, BaseModel):
        return _redact_value(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact_value(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {
            redact_text(str(key)): REDACTED
            if str(key).lower() in SENSITIVE_KEYS
            else _redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return redact_text(str(value))


def redact_personal_data(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Last line of defence: scrub every value, including rendered exceptions."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]


def configure_logging(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    """Route structlog and stdlib loggers (uvicorn, aio-pika, pymongo) through one pipeline."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer()
    )
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _add_service(service),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aio_pika", "aiormq", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _add_service(service: str) -> Processor:
    def add(_: WrappedLogger, __: str, event_dict: MutableMapping[str, Any]) -> EventDict:
        event_dict.setdefault("service", service)
        return dict(event_dict)

    return add


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
