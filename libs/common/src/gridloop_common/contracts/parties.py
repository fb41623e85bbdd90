"""Who publishes each contract, and what each service does on the broker.

Two things are derived from these tables: docs/asyncapi.yaml (tools/asyncapi.py) and each
service's least-privilege broker user (`gridloop-dispatch provision-departments --services`),
which may publish only the routing keys of the contracts it publishes here. A service that starts
publishing a new contract, or consuming from another exchange, must be entered here: until then
the broker refuses it (403), which is the point. tests/test_asyncapi.py checks `BROKER_USE`
against every service's subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridloop_common.contracts.base import (
    EVENTS_EXCHANGE,
    ORDERS_EXCHANGE,
    REPLIES_EXCHANGE,
    Message,
)
from gridloop_common.contracts.cases import (
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
)
from gridloop_common.contracts.orders import (
    AcceptOrder,
    CompleteOrder,
    RejectOrder,
    ReportProgress,
    RequestExtension,
    WorkOrder,
)
from gridloop_common.contracts.reports import ReporterErased, ReportLinked, ReportReceived
from gridloop_common.contracts.scoring import ScoringPeriodClosed
from gridloop_common.contracts.sla import SlaBreached, SlaMet, SlaSettledLate, SlaWarning
from gridloop_common.contracts.watermarks import DispatchWatermark

DEPARTMENT = "department"  # the outside party: a city department's own system

# Who publishes each contract (docs/architecture.md, "Services"). Add a new contract here.
PUBLISHERS: dict[type[Message], str] = {
    ReportReceived: "intake",
    ReportLinked: "intake",
    ReporterErased: "intake",
    CaseDispatched: "dispatch",
    DispatchWatermark: "dispatch",
    CaseAccepted: "dispatch",
    CaseRejected: "dispatch",
    CaseCompleted: "dispatch",
    CaseClosed: "dispatch",
    CaseExtended: "dispatch",
    CaseReopened: "dispatch",
    CaseFlagged: "dispatch",
    CaseReplyRefused: "dispatch",
    CaseEscalated: "dispatch",
    CaseResolvedLocally: "dispatch",
    WorkOrder: "dispatch",
    SlaWarning: "sla-monitor",
    SlaBreached: "sla-monitor",
    SlaMet: "sla-monitor",
    SlaSettledLate: "sla-monitor",
    # Published from the periods collection's outbox when a period closes.
    ScoringPeriodClosed: "scoring",
    AcceptOrder: DEPARTMENT,
    RejectOrder: DEPARTMENT,
    ReportProgress: DEPARTMENT,
    CompleteOrder: DEPARTMENT,
    RequestExtension: DEPARTMENT,
}


@dataclass(frozen=True)
class BrokerUse:
    """The exchanges a service's inbox is bound to, and whether it owns the department queues."""

    consumes_from: tuple[str, ...]
    # dispatch declares every `dept.<code>.orders` and binds it to gridloop.orders.
    department_queues: bool = False

    def publishes(self, service: str) -> tuple[type[Message], ...]:
        return tuple(m for m, publisher in PUBLISHERS.items() if publisher == service)

    def exchanges(self, service: str) -> tuple[str, ...]:
        """Every exchange the service declares: the ones it publishes to or consumes from."""
        used = {m.EXCHANGE for m in self.publishes(service)} | set(self.consumes_from)
        if self.department_queues:
            used.add(ORDERS_EXCHANGE)
        return tuple(e for e in (EVENTS_EXCHANGE, ORDERS_EXCHANGE, REPLIES_EXCHANGE) if e in used)


BROKER_USE: dict[str, BrokerUse] = {
    "intake": BrokerUse(consumes_from=(EVENTS_EXCHANGE,)),
    "dispatch": BrokerUse(
        consumes_from=(EVENTS_EXCHANGE, REPLIES_EXCHANGE), department_queues=True
    ),
    "sla-monitor": BrokerUse(consumes_from=(EVENTS_EXCHANGE,)),
    "scoring": BrokerUse(consumes_from=(EVENTS_EXCHANGE,)),
    "notify": BrokerUse(consumes_from=(EVENTS_EXCHANGE,)),
    # The operations console: its own read model of the events it shows; publishes nothing.
    "console": BrokerUse(consumes_from=(EVENTS_EXCHANGE,)),
}
