"""The SLA board as pure views over the open cases' stored clocks: rows most overdue first,
and red / yellow / green counted per township x department."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridloop_console.case_view import SEVERITY, Colour, RunningClock, worst

UNLOCATED = "unlocated"


@dataclass(frozen=True)
class BoardRow:
    """One open order: its worst colour and its most urgent running clock."""

    case_id: str
    order_id: str
    department: str
    township_id: str
    grid_id: str | None
    category_code: str | None
    accepted: bool
    colour: Colour
    clock: str
    deadline: datetime
    # Seconds past the most urgent deadline; negative while time is left.
    overdue_seconds: float

    def rank(self) -> tuple[int, float]:
        return (-SEVERITY[self.colour], -self.overdue_seconds)


@dataclass(frozen=True)
class BoardFilter:
    clock: str | None = None
    township_id: str | None = None
    department: str | None = None
    colour: str | None = None

    def keeps(self, row: BoardRow) -> bool:
        # The clock is chosen before a row is made: its colour is that clock's alone.
        if self.township_id and row.township_id != self.township_id:
            return False
        if self.department and row.department != self.department:
            return False
        return not self.colour or row.colour == self.colour


class BoardMirror:
    """The open cases' board documents as last read: a newer version replaces an older one,
    a tombstone (`open: false`) removes its case."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def apply(self, documents: Iterable[dict[str, Any]]) -> None:
        for document in documents:
            case_id = str(document["_id"])
            known = self._open.get(case_id)
            if known is not None and known.get("version", 0) > document.get("version", 0):
                continue
            if document.get("open"):
                self._open[case_id] = document
            else:
                self._open.pop(case_id, None)

    def cases(self) -> list[dict[str, Any]]:
        return list(self._open.values())


def board_rows(
    open_cases: Iterable[dict[str, Any]], now: datetime, wanted: BoardFilter | None = None
) -> list[BoardRow]:
    wanted = wanted or BoardFilter()
    rows = []
    for case in open_cases:
        for order in case.get("open_orders", []):
            clocks = [RunningClock.from_document(c) for c in order.get("clocks", [])]
            shown = [c for c in clocks if not wanted.clock or c.clock == wanted.clock]
            if not shown:
                continue
            urgent = min(shown, key=lambda c: c.deadline)
            row = BoardRow(
                case_id=str(case["_id"]),
                order_id=order["order_id"],
                department=order["department"],
                township_id=case.get("township_id") or UNLOCATED,
                grid_id=case.get("grid_id"),
                category_code=case.get("category_code"),
                accepted=bool(order.get("accepted")),
                colour=worst(c.colour(now) for c in shown) or Colour.GREEN,
                clock=urgent.clock,
                deadline=urgent.deadline,
                overdue_seconds=(now - urgent.deadline).total_seconds(),
            )
            if wanted.keeps(row):
                rows.append(row)
    return sorted(rows, key=BoardRow.rank)


@dataclass(frozen=True)
class Tally:
    """Open orders by colour, per township x department and in all."""

    cells: dict[str, dict[str, Counter[Colour]]]
    totals: Counter[Colour]

    def townships(self) -> list[str]:
        return sorted(self.cells, key=lambda t: (self._urgency(self.cells[t].values()), t))

    def departments(self) -> list[str]:
        by_department: dict[str, list[Counter[Colour]]] = defaultdict(list)
        for row in self.cells.values():
            for department, counts in row.items():
                by_department[department].append(counts)
        return sorted(by_department, key=lambda d: (self._urgency(by_department[d]), d))

    @staticmethod
    def _urgency(counts: Iterable[Counter[Colour]]) -> tuple[int, int, int]:
        """Most red first, then most yellow, then most orders (a sort key)."""
        total: Counter[Colour] = sum(counts, Counter())
        return (-total[Colour.RED], -total[Colour.YELLOW], -total[Colour.GREEN])


def tally(rows: Iterable[BoardRow]) -> Tally:
    cells: dict[str, dict[str, Counter[Colour]]] = defaultdict(lambda: defaultdict(Counter))
    totals: Counter[Colour] = Counter()
    for row in rows:
        cells[row.township_id][row.department][row.colour] += 1
        totals[row.colour] += 1
    return Tally({t: dict(d) for t, d in cells.items()}, totals)
