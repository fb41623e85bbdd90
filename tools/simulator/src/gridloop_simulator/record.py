"""What the simulated city did and heard, kept so an audit can compare input with output.

Times are wall-clock epoch seconds (`time.time()`), so they line up with a fault schedule run
by another component of the same machine.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ReportSent:
    key: str  # the Idempotency-Key: one problem, however often it is sent
    channel: str
    kind: str  # "new", "duplicate", "bad", "triage"
    sent_at: float
    answered_at: float | None = None
    status: int | None = None  # the final HTTP status
    report_id: str | None = None
    linked_to: str | None = None
    attempts: int = 0
    error: str | None = None
    # The retried share: the replay's report id, and whether it said Idempotent-Replayed.
    replay_report_id: str | None = None
    replay_flagged: bool | None = None
    # For duplicates: the key of the report they repeat.
    repeats_key: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status in (201, 202) and self.report_id is not None


@dataclass
class OrderSeen:
    order_id: str
    case_id: str
    department: str
    message_id: str
    received_at: float
    dispatched_at: str
    accept_by: str
    complete_by: str
    dispatch_reason: str | None
    previous_order_id: str | None
    repeats: int = 0  # the same message id delivered again
    other_message_ids: list[str] = field(default_factory=list)  # a second message, same order


@dataclass
class ReplySent:
    reply_id: str
    order_id: str
    department: str
    action: str
    via: str  # "amqp" or "http"
    sent_at: float
    confirmed_at: float | None = None
    http_status: int | None = None
    attempts: int = 0
    error: str | None = None


@dataclass
class CenterAction:
    action: str  # triage, redispatch, approve, refuse, escalate, resolve, notice
    target: str  # case, order or notice id
    at: float
    status: int | None
    key: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeedbackSent:
    case_id: str
    order_id: str
    satisfied: bool
    at: float
    status: int | None
    key: str


@dataclass
class SlaHeard:
    event_id: str
    type: str
    routing_key: str
    order_id: str
    case_id: str
    clock: str
    department: str
    deadline: str
    received_at: float
    repeats: int = 0


@dataclass
class DeliveryHeard:
    """One request notify made to the simulated chat platform, SMS gateway or resident app."""

    delivery_id: str  # notify's Idempotency-Key
    endpoint: str  # chat-group, sms, resident-app
    kind: str
    notice_id: str
    case_id: str | None
    order_id: str | None
    address: str  # group id, phone, or the pseudonymous reporter id
    received_at: float
    repeats: int = 0


@dataclass
class Broadcast:
    notice_id: str
    key: str
    level: str
    ids: list[str]
    recipients: int
    recipients_by_channel: dict[str, int]
    sent_at: float


@dataclass
class Record:
    reports: list[ReportSent] = field(default_factory=list)
    orders: dict[str, OrderSeen] = field(default_factory=dict)
    replies: list[ReplySent] = field(default_factory=list)
    center: list[CenterAction] = field(default_factory=list)
    feedback: list[FeedbackSent] = field(default_factory=list)
    sla: dict[str, SlaHeard] = field(default_factory=dict)
    deliveries: dict[str, DeliveryHeard] = field(default_factory=dict)
    broadcasts: list[Broadcast] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    counters: Counter[str] = field(default_factory=Counter)

    def order_seen(self, seen: OrderSeen) -> OrderSeen:
        """Keep the first sighting of an order; count a repeat of its message, note another."""
        known = self.orders.get(seen.order_id)
        if known is None:
            self.orders[seen.order_id] = seen
            self.counters["orders"] += 1
            return seen
        if seen.message_id == known.message_id:
            known.repeats += 1
            self.counters["order_repeats"] += 1
        else:
            known.other_message_ids.append(seen.message_id)
            self.counters["order_second_messages"] += 1
        return known

    def sla_heard(self, heard: SlaHeard) -> bool:
        """True the first time an event id is heard."""
        known = self.sla.get(heard.event_id)
        if known is not None:
            known.repeats += 1
            self.counters["sla_repeats"] += 1
            return False
        self.sla[heard.event_id] = heard
        # org.gridloop.sla.breached.v1 -> sla_breached
        self.counters["_".join(heard.type.removeprefix("org.gridloop.").split(".")[:2])] += 1
        return True

    def delivery_heard(self, heard: DeliveryHeard) -> bool:
        known = self.deliveries.get(heard.delivery_id)
        if known is not None:
            known.repeats += 1
            self.counters["delivery_repeats"] += 1
            return False
        self.deliveries[heard.delivery_id] = heard
        self.counters["deliveries"] += 1
        return True

    def write(self, path: Path) -> None:
        """One JSON object per line, each with its `record` kind."""
        with path.open("w", encoding="utf-8") as out:
            for kind, items in (
                ("report", self.reports),
                ("order", list(self.orders.values())),
                ("reply", self.replies),
                ("center", self.center),
                ("feedback", self.feedback),
                ("sla", list(self.sla.values())),
                ("delivery", list(self.deliveries.values())),
                ("broadcast", self.broadcasts),
            ):
                for item in items:
                    out.write(json.dumps({"record": kind, **asdict(item)}, ensure_ascii=False))
                    out.write("\n")
