"""The case aggregate: a case, its work orders and extension requests, as frozen values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from gridloop_common.contracts import OrderRole
from gridloop_common.envelope import derived_id

CaseStatus = Literal[
    "reported",  # held at village level (a local-first category)
    "awaiting_triage",  # on the center's triage list: unclassified, unlocated or unroutable
    "dispatched",  # orders out, not yet accepted
    "reopened",  # sent back after unsatisfied feedback, not yet accepted again
    "accepted",  # every current order accepted
    "in_progress",  # work reported on at least one order
    "rejected",  # a share was rejected: waits for the center to re-dispatch it
    "completed",  # every order complete; waits for the reporter's feedback
    "closed",  # feedback given (or the reopen limit reached)
    "resolved_locally",  # solved by the village without a work order
]
CASE_STATUSES: tuple[str, ...] = get_args(CaseStatus)

OrderStatus = Literal["dispatched", "accepted", "in_progress", "completed", "rejected"]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
ACTIVE_ORDER: frozenset[str] = frozenset({"dispatched", "accepted", "in_progress"})

ExtensionStatus = Literal["pending", "approved", "refused"]


@dataclass(frozen=True)
class Extension:
    requested_at: datetime
    requested_by: str
    reason: str
    proposed_complete_by: datetime
    status: ExtensionStatus = "pending"
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str | None = None
    approved_complete_by: datetime | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    department: str
    # A share of the case: "sole", or "lead" / "coop-<n>" in a joint action. A rejected share
    # is re-dispatched as a new order in the same slot.
    slot: str
    role: OrderRole
    round: int
    status: OrderStatus
    dispatched_at: datetime
    accept_by: datetime
    complete_by: datetime
    dispatch_reason: str
    fallback: bool = False
    previous_order_id: str | None = None
    comment: str | None = None
    accepted_at: datetime | None = None
    handler: str | None = None
    progress_reports: int = 0
    completed_at: datetime | None = None
    result: str | None = None
    photo_urls: tuple[str, ...] = ()
    rejected_at: datetime | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    extensions: tuple[Extension, ...] = ()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_ORDER

    @property
    def pending_extension(self) -> Extension | None:
        if self.extensions and self.extensions[-1].status == "pending":
            return self.extensions[-1]
        return None

    def next_deadline(self) -> datetime | None:
        if self.status == "dispatched":
            return self.accept_by
        if self.status in ("accepted", "in_progress"):
            return self.complete_by
        return None


@dataclass(frozen=True)
class Case:
    case_id: str
    category_code: str
    grid_id: str
    description: str
    opened_at: datetime
    status: CaseStatus
    report_id: str | None = None
    reporter_id: str | None = None
    channel: str | None = None
    township_id: str | None = None
    village_id: str | None = None
    grid_path: str | None = None
    # The township government of the grid: owner of last resort (None when unlocated).
    fallback_owner: str | None = None
    location: dict[str, float] | None = None
    photo_urls: tuple[str, ...] = ()
    reported_at: datetime | None = None
    triage_reasons: tuple[str, ...] = ()
    orders: tuple[Order, ...] = ()
    round: int = 1
    # What started the current round: "opened", "joint-action" or "reopened".
    round_reason: str = "opened"
    rejections: int = 0
    flagged: bool = False
    reopens: int = 0
    resolution: str | None = None
    satisfied: bool | None = None
    closed_at: datetime | None = None
    version: int = 0

    def order(self, order_id: str) -> Order | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def current_orders(self) -> list[Order]:
        """The latest order of every slot of the current round."""
        latest: dict[str, Order] = {}
        for order in self.orders:
            if order.round == self.round:
                latest[order.slot] = order
        return list(latest.values())

    def with_order(self, updated: Order) -> Case:
        orders = tuple(updated if o.order_id == updated.order_id else o for o in self.orders)
        return replace(self, orders=orders)

    def lead(self) -> Order | None:
        current = self.current_orders()
        return next((o for o in current if o.role in ("lead", "sole")), None)

    def next_deadline(self) -> datetime | None:
        deadlines = [d for o in self.current_orders() if (d := o.next_deadline()) is not None]
        return min(deadlines) if deadlines else None


def case_id_for(report_id: str) -> str:
    # Derived, not random: a redelivered report.received maps to the same case.
    return "C-" + derived_id("case", report_id)[:18]


def order_id_for(case_id: str, department: str, sequence: int) -> str:
    return "O-" + derived_id("order", case_id, department, str(sequence))[:18]


# --- documents ----------------------------------------------------------------------------

_CASE_FIELDS = (
    "category_code",
    "grid_id",
    "description",
    "opened_at",
    "status",
    "report_id",
    "reporter_id",
    "channel",
    "township_id",
    "village_id",
    "grid_path",
    "fallback_owner",
    "location",
    "reported_at",
    "round",
    "round_reason",
    "rejections",
    "flagged",
    "reopens",
    "resolution",
    "satisfied",
    "closed_at",
    "version",
)


def _extension_document(extension: Extension) -> dict[str, Any]:
    return dict(extension.__dict__)


def _order_document(order: Order) -> dict[str, Any]:
    document = dict(order.__dict__)
    document["photo_urls"] = list(order.photo_urls)
    document["extensions"] = [_extension_document(e) for e in order.extensions]
    return document


def case_document(case: Case) -> dict[str, Any]:
    """The stored form: the case's own fields plus what the list filters query."""
    document: dict[str, Any] = {"_id": case.case_id}
    for name in _CASE_FIELDS:
        document[name] = getattr(case, name)
    document["photo_urls"] = list(case.photo_urls)
    document["triage_reasons"] = list(case.triage_reasons)
    document["orders"] = [_order_document(o) for o in case.orders]
    # Derived, stored so the list endpoint can filter with an index instead of scanning.
    document["departments"] = sorted({o.department for o in case.orders})
    document["current_departments"] = sorted({o.department for o in case.current_orders()})
    document["next_deadline"] = case.next_deadline()
    document["extension_pending"] = any(o.pending_extension for o in case.current_orders())
    return document


def _extension(document: dict[str, Any]) -> Extension:
    values: dict[str, Any] = {
        k: document[k] for k in Extension.__dataclass_fields__ if k in document
    }
    return Extension(**values)


def _order(document: dict[str, Any]) -> Order:
    values = {k: document[k] for k in Order.__dataclass_fields__ if k in document}
    values["photo_urls"] = tuple(document.get("photo_urls") or ())
    values["extensions"] = tuple(_extension(e) for e in document.get("extensions") or ())
    # Orders stored before slots existed were the case's only order.
    values.setdefault("slot", "sole")
    values.setdefault("role", "sole")
    values.setdefault("round", 1)
    values.setdefault("dispatch_reason", "routed")
    values.setdefault("complete_by", document.get("accept_by"))
    return Order(**values)


def case_from_document(document: dict[str, Any]) -> Case:
    values: dict[str, Any] = {k: document[k] for k in _CASE_FIELDS if k in document}
    values["case_id"] = document["_id"]
    values["photo_urls"] = tuple(document.get("photo_urls") or ())
    values["triage_reasons"] = tuple(document.get("triage_reasons") or ())
    values["orders"] = tuple(_order(o) for o in document.get("orders") or ())
    values.setdefault("description", "")
    return Case(**values)
