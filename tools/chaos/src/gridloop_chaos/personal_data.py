"""Residents' personal data where it does not belong: the logs, the metrics, the parking reasons.

A report carries its resident's phone number and name (and sometimes an ID-card number the
caller dictated); they belong in intake's contact store and in the messages that must carry
them, never in a log line, a metric label or the reason a message was parked
(docs/architecture.md, "Personal data"). After a run under faults, when every error path has
been taken, every such text is searched for any mainland mobile number, any 18-character
resident ID and every name the simulated residents gave. A finding names the place and the
kind, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gridloop_simulator.city import PlannedReport

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


@dataclass(frozen=True)
class Leak:
    where: str  # "intake-1.log line 1234", "notify-2 /metrics line 80", "parked in dispatch"
    kind: str  # "phone number", "ID-card number", "resident's name"


@dataclass(frozen=True)
class Scanned:
    texts: int
    lines: int
    leaks: list[Leak]


class PersonalDataScan:
    def __init__(self, plan: Sequence[PlannedReport]) -> None:
        names = sorted({r.name for r in plan if r.name}, key=len, reverse=True)
        self._names = re.compile("|".join(map(re.escape, names))) if names else None

    def scan(self, texts: Iterable[tuple[str, str]]) -> Scanned:
        """`texts`: (where, text) pairs; each line of each is searched."""
        count = lines = 0
        leaks: list[Leak] = []
        for where, text in texts:
            count += 1
            for number, line in enumerate(text.splitlines(), start=1):
                lines += 1
                leaks += [Leak(f"{where} line {number}", kind) for kind in self._kinds_in(line)]
        return Scanned(count, lines, leaks)

    def _kinds_in(self, line: str) -> list[str]:
        kinds = []
        if PHONE.search(line):
            kinds.append("phone number")
        if ID_CARD.search(line):
            kinds.append("ID-card number")
        if self._names is not None and self._names.search(line):
            kinds.append("resident's name")
        return kinds
