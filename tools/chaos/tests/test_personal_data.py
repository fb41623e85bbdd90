"""The personal-data scan: what it finds, and that it names the place, never the value."""

from __future__ import annotations

from gridloop_chaos.personal_data import PersonalDataScan
from gridloop_simulator.city import PlannedReport

PLAN = [
    PlannedReport(0, "k0", "hotline", "new", "/x", phone="19900000000", name="王秀英"),
    PlannedReport(1, "k1", "native", "new", "/x"),
]


def test_phones_ids_and_the_residents_names_are_found_by_line() -> None:
    scanned = PersonalDataScan(PLAN).scan(
        [
            ("intake-1.log", 'ok\n{"event": "stored", "phone": "13912345678"}\nok'),
            ("parked", "invalid: caller 王秀英 said 34188119500101001X"),
        ]
    )
    assert (scanned.texts, scanned.lines) == (2, 4)
    found = [(leak.where, leak.kind) for leak in scanned.leaks]
    assert found == [
        ("intake-1.log line 2", "phone number"),
        ("parked line 1", "ID-card number"),
        ("parked line 1", "resident's name"),
    ]
    assert all("139" not in leak.where for leak in scanned.leaks)


def test_ids_and_counters_that_only_look_alike_are_not_personal_data() -> None:
    harmless = "\n".join(
        [
            'gridloop_messages_total{service="intake"} 13912345',  # too short for a phone
            "took 1391234567890 ns",  # 13 digits: no phone in it
            "order O-4f1c9d2e8a7b6c5d4e3f2a1b0c9d8e7f",  # hex id
            "trace 3418811950010100123",  # 19 digits: not an ID
            "王 秀 英 spaced is not the name",
        ]
    )
    assert PersonalDataScan(PLAN).scan([("log", harmless)]).leaks == []
