"""The fault suite's check of the console: dispatch's orders and replies, each once in the
console's timelines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gridloop_chaos.audit import Audit, EndState, _console

OPENED = datetime(2026, 12, 7, tzinfo=UTC)


def state(console: dict[str, list[dict[str, Any]]]) -> EndState:
    case = {
        "_id": "C-1",
        "opened_at": OPENED,
        "orders": [{"order_id": "O-1"}, {"order_id": "O-2"}],
        "history": [
            {"what": "accepted", "order_id": "O-1"},
            {"what": "rejected", "order_id": "O-1"},
            {"what": "progress", "order_id": "O-2"},  # not an event the console shows
        ],
    }
    return EndState({}, [case], {}, OPENED, console=console)


def entries(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"order_id": order, "kind": kind} for order, kind in pairs]


EVERYTHING = [
    ("O-1", "dispatched"),
    ("O-1", "accepted"),
    ("O-1", "rejected"),
    ("O-2", "dispatched"),
]


def checked(console: dict[str, list[dict[str, Any]]]) -> Audit:
    result = Audit()
    _console(result, state(console))
    return result


def test_a_timeline_with_every_order_and_reply_once_is_clean() -> None:
    result = checked({"C-1": entries(*EVERYTHING, ("O-2", "sla_warning"))})
    assert result.findings == []
    assert result.checked["console cases"] == 1


def test_a_missing_entry_or_case_is_lost_and_a_doubled_one_a_duplicate() -> None:
    assert [f.kind for f in checked({"C-1": entries(*EVERYTHING[:3])}).findings] == ["lost"]
    assert [f.kind for f in checked({"C-1": entries(*EVERYTHING, EVERYTHING[1])}).findings] == [
        "duplicate"
    ]
    assert [f.kind for f in checked({"C-other": []}).findings] == ["lost"]
