"""What went in against what came out: the simulator's record beside the system's end state.

Each check yields findings: `lost` (something accepted that left no effect), `duplicate` (an
effect that happened twice), `repeat` (the same message or delivery again under the same id:
allowed by at-least-once delivery, counted apart), `unexpected` (an effect nothing asked for).
Every finding carries the moment it belongs to, so the fault suite can say which fault it
happened under.

The system's end state is read where it is kept: intake's reports and dispatch's cases from
their databases (the audit is the test's oracle, not a client), scoring's figures from its API.
The SLA rules are computed here from dispatch's stored times, independently of sla-monitor.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridloop_simulator.city import PlannedReport
from gridloop_simulator.record import Record

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPLY_LINES = {
    "accept": "accepted",
    "reject": "rejected",
    "progress": "progress",
    "complete": "completed",
    "request-extension": "extension_requested",
}
INHERITS_COMPLETE_CLOCK = frozenset({"redispatch", "fallback"})


@dataclass(frozen=True)
class Finding:
    check: str
    kind: str  # lost, duplicate, repeat, unexpected
    at: float  # epoch seconds: when the thing that went wrong was sent or due
    detail: str


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    # What each check looked at: check -> number of items.
    checked: Counter[str] = field(default_factory=Counter)

    def add(self, check: str, kind: str, at: float, detail: str) -> None:
        self.findings.append(Finding(check, kind, at, detail))

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def clean(self) -> bool:
        return not any(f.kind in ("lost", "duplicate", "unexpected") for f in self.findings)


@dataclass(frozen=True)
class EndState:
    """The system after it settled, as read by the fault suite."""

    reports: Mapping[str, dict[str, Any]]  # intake: report id -> stored report
    cases: Sequence[dict[str, Any]]  # dispatch: every case document
    scoring: Mapping[tuple[str, str, str], dict[str, float]]  # (period, metric, level) -> values
    audited_at: datetime
    # service -> why each good (not the suite's poison) parked message was parked
    parked: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # (case, notice kind) notify recorded as skipped for the reporter: news that came after
    # the case had closed and its reply addresses were forgotten
    skipped_news: frozenset[tuple[str, str]] = frozenset()
    # console: case id -> its timeline entries as stored in the console's read model
    console: Mapping[str, Sequence[dict[str, Any]]] = field(default_factory=dict)


def audit(record: Record, plan: Sequence[PlannedReport], state: EndState) -> Audit:
    result = Audit()
    _reports(result, record, state)
    _orders(result, record, state)
    _replies(result, record, state)
    _sla(result, record, state)
    _scoring(result, record, state)
    _notices(result, record, plan, state)
    _console(result, state)
    for service, count in state.parked.items():
        if count:
            result.add(
                "parked", "lost", record.started_at, f"{count} good messages in {service}.dead"
            )
    return result


# --- reports → cases ---------------------------------------------------------------------


def _reports(result: Audit, record: Record, state: EndState) -> None:
    cases_by_report = Counter(c.get("report_id") for c in state.cases)
    answered_ids = set()
    for sent in record.reports:
        if sent.kind == "bad":
            result.checked["bad input refused"] += 1
            if sent.status is not None and sent.status < 400:
                result.add(
                    "reports", "unexpected", sent.sent_at, f"bad input {sent.key} got {sent.status}"
                )
            continue
        if not sent.accepted:
            continue
        assert sent.report_id is not None
        answered_ids.add(sent.report_id)
        result.checked["reports answered 202"] += 1
        if sent.replay_report_id is not None and sent.replay_report_id != sent.report_id:
            result.add(
                "reports", "duplicate", sent.sent_at, f"{sent.key} replayed as another report"
            )
        stored = state.reports.get(sent.report_id)
        if stored is None:
            result.add("reports", "lost", sent.sent_at, f"report {sent.report_id} not stored")
            continue
        if stored.get("linked_to"):
            # A duplicate joins its original's case; it opens none of its own.
            if cases_by_report[sent.report_id]:
                result.add(
                    "reports", "duplicate", sent.sent_at, f"linked {sent.report_id} has a case"
                )
            continue
        cases = cases_by_report[sent.report_id]
        if cases == 0:
            result.add("reports", "lost", sent.sent_at, f"report {sent.report_id} has no case")
        elif cases > 1:
            result.add(
                "reports", "duplicate", sent.sent_at, f"report {sent.report_id}: {cases} cases"
            )
    for report_id in set(state.reports) - answered_ids:
        # Stored, but the resident never heard 202 (the answer was lost): counted, not wrong.
        result.add("reports", "repeat", record.started_at, f"report {report_id} stored unanswered")


# --- cases → department queues -----------------------------------------------------------


def _orders(result: Audit, record: Record, state: EndState) -> None:
    stored = {o["order_id"]: (c, o) for c in state.cases for o in c.get("orders") or []}
    for order_id, (_, order) in stored.items():
        result.checked["orders dispatched"] += 1
        seen = record.orders.get(order_id)
        at = _epoch(order["dispatched_at"])
        if seen is None:
            result.add(
                "orders", "lost", at, f"order {order_id} ({order['department']}) not received"
            )
            continue
        if seen.repeats:
            result.add(
                "orders", "repeat", at, f"order {order_id} delivered {seen.repeats + 1} times"
            )
        if seen.other_message_ids:
            result.add("orders", "duplicate", at, f"order {order_id} sent as several messages")
    for order_id, seen in record.orders.items():
        if order_id not in stored:
            result.add(
                "orders", "unexpected", seen.received_at, f"order {order_id} unknown to dispatch"
            )
    # One dispatch decision, one order: a share is re-dispatched, or a case reopened, once per
    # order it replaces; a round's first order of a slot exists once.
    for case in state.cases:
        decisions = Counter(
            (o.get("previous_order_id") or f"{o['slot']}@{o['round']}", o["dispatch_reason"])
            for o in case.get("orders") or []
        )
        for (cause, reason), count in decisions.items():
            if count > 1:
                result.add(
                    "orders",
                    "duplicate",
                    _epoch(case["opened_at"]),
                    f"case {case['_id']}: {count} orders for {reason} of {cause}",
                )


# --- replies → timeline ------------------------------------------------------------------


def _replies(result: Audit, record: Record, state: EndState) -> None:
    lines: Counter[tuple[str, str]] = Counter()
    for case in state.cases:
        for line in case.get("history") or []:
            if line.get("order_id") and line.get("what") in REPLY_LINES.values():
                lines[(line["order_id"], line["what"])] += 1
    sent: dict[tuple[str, str], list[float]] = defaultdict(list)
    for reply in record.replies:
        if reply.confirmed_at is None:
            continue  # never reached dispatch (given up): nothing was accepted
        sent[(reply.order_id, REPLY_LINES[reply.action])].append(reply.sent_at)
    for key, times in sent.items():
        result.checked["replies applied"] += len(times)
        applied = lines[key]
        if applied < len(times):
            result.add(
                "replies", "lost", min(times), f"{key[1]} of {key[0]}: {applied}/{len(times)}"
            )
        elif applied > len(times):
            result.add("replies", "duplicate", min(times), f"{key[1]} of {key[0]}: {applied} lines")
    for key in set(lines) - set(sent):
        result.add("replies", "unexpected", record.started_at, f"{key[1]} of {key[0]} never sent")


# --- the console's read model ------------------------------------------------------------

# What dispatch's timeline calls a line, as the console's timeline names its entry.
CONSOLE_KINDS = {"accepted": "accepted", "rejected": "rejected", "completed": "completed"}


def _console(result: Audit, state: EndState) -> None:
    """Every order and every applied reply of dispatch's cases is in the console's timeline of
    the case exactly once: the read model lost nothing and repeated nothing under the faults."""
    if not state.console:
        return  # a system without the console (an older run's state)
    for case in state.cases:
        at = _epoch(case["opened_at"])
        entries = state.console.get(case["_id"])
        orders = case.get("orders") or []
        if not orders:
            continue  # resolved in the village, or waiting for triage: no order to show
        result.checked["console cases"] += 1
        if entries is None:
            result.add("console", "lost", at, f"case {case['_id']} not in the console")
            continue
        shown = Counter((e.get("order_id"), e["kind"]) for e in entries)
        expected: Counter[tuple[str | None, str]] = Counter(
            (o["order_id"], "dispatched") for o in orders
        )
        for line in case.get("history") or []:
            kind = CONSOLE_KINDS.get(line.get("what", ""))
            if kind and line.get("order_id"):
                expected[(line["order_id"], kind)] += 1
        for key, count in expected.items():
            if shown[key] < count:
                result.add("console", "lost", at, f"{key[1]} of {key[0]}: {shown[key]}/{count}")
            elif shown[key] > count:
                result.add("console", "duplicate", at, f"{key[1]} of {key[0]}: {shown[key]}")


# --- SLA clocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    key: str  # accept:<order> or complete:<first order of the share>
    department: str
    deadline: datetime
    settled_at: datetime | None


def expected_clocks(cases: Iterable[dict[str, Any]]) -> list[Clock]:
    """Every clock dispatch's record implies, with its deadline and when it was settled.

    accept: per order, due at accept-by, settled by acceptance (or completion, or rejection).
    complete: per share — the first order and every order that took it over by re-dispatch
    or fallback — due at the first order's complete-by, moved by each extension approved before
    the deadline then in force (one approved later cannot undo a breach), settled by the
    completion of the order holding it. A reopened round starts a new share.
    """
    clocks: list[Clock] = []
    for case in cases:
        orders = {o["order_id"]: o for o in case.get("orders") or []}
        for order in orders.values():
            settled = (
                order.get("accepted_at") or order.get("completed_at") or order.get("rejected_at")
            )
            clocks.append(
                Clock(
                    f"accept:{order['order_id']}", order["department"], order["accept_by"], settled
                )
            )
        for share in _shares(orders):
            deadline = share[0]["complete_by"]
            approvals = sorted(
                (
                    e
                    for o in share
                    for e in o.get("extensions") or []
                    if e.get("status") == "approved"
                ),
                key=lambda e: e["decided_at"],
            )
            for approval in approvals:
                if (
                    approval["decided_at"] <= deadline
                    and approval["approved_complete_by"] > deadline
                ):
                    deadline = approval["approved_complete_by"]
            holder = share[-1]
            completed = holder.get("completed_at") if holder["status"] == "completed" else None
            clocks.append(
                Clock(f"complete:{share[0]['order_id']}", holder["department"], deadline, completed)
            )
    return clocks


def share_root(orders: Mapping[str, dict[str, Any]], order_id: str) -> str:
    """The first order of the share an order holds (its complete clock's name)."""
    order = orders[order_id]
    previous = order.get("previous_order_id")
    if (
        isinstance(previous, str)
        and previous in orders
        and order.get("dispatch_reason") in INHERITS_COMPLETE_CLOCK
    ):
        return share_root(orders, previous)
    return order_id


def _shares(orders: Mapping[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order_id, order in orders.items():
        chains[share_root(orders, order_id)].append(order)
    return [sorted(chain, key=lambda o: o["dispatched_at"]) for chain in chains.values()]


def _sla(result: Audit, record: Record, state: EndState) -> None:
    all_orders = {o["order_id"]: o for c in state.cases for o in c.get("orders") or []}
    heard: dict[str, set[str]] = defaultdict(set)
    for event in record.sla.values():
        if event.type != "org.gridloop.sla.breached.v1":
            continue
        if event.order_id not in all_orders:
            result.add(
                "sla", "unexpected", event.received_at, f"breach for unknown {event.order_id}"
            )
            continue
        order_key = (
            event.order_id if event.clock == "accept" else share_root(all_orders, event.order_id)
        )
        heard[f"{event.clock}:{order_key}"].add(event.event_id)
        if event.repeats:
            result.add("sla", "repeat", event.received_at, f"breach {event.event_id} heard again")
    for clock in expected_clocks(state.cases):
        due = clock.deadline
        if clock.settled_at is None and due > state.audited_at:
            continue  # still running: no verdict yet
        result.checked["deadlines checked"] += 1
        breached = clock.settled_at is None or clock.settled_at > due
        events = heard.pop(clock.key, set())
        at = due.timestamp()
        if breached and not events:
            result.add("sla", "lost", at, f"{clock.key} ({clock.department}) breached unannounced")
        elif not breached and events:
            result.add("sla", "unexpected", at, f"{clock.key} met in time but announced")
        elif len(events) > 1:
            result.add("sla", "duplicate", at, f"{clock.key}: {len(events)} breach events")
    for key in heard:
        result.add("sla", "unexpected", record.started_at, f"breach for {key}, a clock not due")


# --- scoring -----------------------------------------------------------------------------


def month_of(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m")


def scoring_tally(record: Record, state: EndState) -> dict[tuple[str, str, str], Counter[str]]:
    """The department figures scoring must show, counted from the simulator's own record:
    orders its departments received, completions they sent, breaches its monitor heard."""
    tally: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    completions = {
        o["order_id"]: o.get("completed_at") for c in state.cases for o in c.get("orders") or []
    }
    for seen in record.orders.values():
        month = month_of(datetime.fromisoformat(seen.dispatched_at))
        tally[(month, "dispatched", "department")][seen.department] += 1
    for reply in record.replies:
        if reply.action == "complete" and reply.confirmed_at is not None:
            done = completions.get(reply.order_id)
            if done is not None:
                tally[(month_of(done), "handled", "department")][reply.department] += 1
    for event in record.sla.values():
        if event.type == "org.gridloop.sla.breached.v1":
            month = month_of(datetime.fromisoformat(event.deadline))
            tally[(month, "breaches", "department")][event.department] += 1
    return tally


def _scoring(result: Audit, record: Record, state: EndState) -> None:
    for key, expected in scoring_tally(record, state).items():
        shown = state.scoring.get(key, {})
        for entity in set(expected) | {e for e, v in shown.items() if v}:
            result.checked["scoring figures"] += 1
            want, got = expected.get(entity, 0), shown.get(entity, 0)
            if want != got:
                kind = "lost" if got < want else "duplicate"
                result.add("scoring", kind, record.started_at, f"{key} {entity}: {got} ≠ {want}")


def scoring_queries(record: Record) -> list[tuple[str, str, str]]:
    """(period, metric, level) the scoring check needs, to fetch before auditing."""
    months = {month_of(datetime.fromtimestamp(record.started_at, UTC)), month_of(datetime.now(UTC))}
    return [
        (month, metric, "department")
        for month in sorted(months)
        for metric in ("dispatched", "handled", "breaches")
    ]


# --- notify ------------------------------------------------------------------------------


def _notices(result: Audit, record: Record, plan: Sequence[PlannedReport], state: EndState) -> None:
    by_address: dict[tuple[str, str], set[str]] = defaultdict(set)
    for delivery in record.deliveries.values():
        by_address[(delivery.notice_id, delivery.address)].add(delivery.delivery_id)
        if delivery.repeats:
            result.add(
                "notify",
                "repeat",
                delivery.received_at,
                f"delivery {delivery.delivery_id} repeated",
            )
    for (notice_id, address), ids in by_address.items():
        if len(ids) > 1:
            result.add(
                "notify", "duplicate", record.started_at, f"{notice_id} to {address}: {len(ids)}"
            )
    # Broadcasts: every recipient the notice announced, once.
    for broadcast in record.broadcasts:
        result.checked["broadcast recipients"] += broadcast.recipients
        reached = {a for (n, a) in by_address if n == broadcast.notice_id}
        if len(reached) < broadcast.recipients:
            missing = broadcast.recipients - len(reached)
            result.add(
                "notify",
                "lost",
                broadcast.sent_at,
                f"{broadcast.notice_id}: {missing} never reached",
            )
        elif len(reached) > broadcast.recipients:
            result.add(
                "notify",
                "unexpected",
                broadcast.sent_at,
                f"{broadcast.notice_id}: extra recipients",
            )
    # Reporters: each acceptance, completion and closure reached the original reporter.
    news = reporter_news(record, plan, state.cases)
    result.checked["reporter notices"] += len(news)
    for case_id, kind, at, endpoint in missing_reporter_news(record, news):
        if (case_id, kind) in state.skipped_news:
            result.checked["reporter notices skipped after the case closed"] += 1
        else:
            result.add("notify", "lost", at, f"{kind} of {case_id} not heard on {endpoint}")


News = tuple[str, str, float, str]  # case id, notice kind, when it happened, the endpoint


def reporter_news(
    record: Record, plan: Sequence[PlannedReport], cases: Iterable[dict[str, Any]]
) -> list[News]:
    """What each case's original reporter must hear, and where."""
    planned = {p.key: p for p in plan}
    reporter_of = {s.report_id: planned[s.key] for s in record.reports if s.accepted}
    news: list[News] = []
    for case in cases:
        endpoint = _push_endpoint(reporter_of.get(case.get("report_id")))
        if endpoint is None:
            continue  # Open311 clients read the status; nothing is pushed
        news += [(case["_id"], kind, at, endpoint) for kind, at in _reporter_news(case)]
    return news


def missing_reporter_news(record: Record, news: Iterable[News]) -> list[News]:
    heard = {(d.case_id or "", d.kind, d.endpoint) for d in record.deliveries.values()}
    return [n for n in news if (n[0], n[1], n[3]) not in heard]


def _push_endpoint(report: PlannedReport | None) -> str | None:
    if report is None or report.channel == "open311":
        return None
    if report.channel == "chat_group":
        return "chat-group"
    return "sms" if report.phone else "resident-app"


def _reporter_news(case: dict[str, Any]) -> list[tuple[str, float]]:
    news: list[tuple[str, float]] = []
    for order in case.get("orders") or []:
        if order.get("accepted_at"):
            news.append(("case_accepted", _epoch(order["accepted_at"])))
        if order.get("completed_at") and order.get("role") != "cooperating":
            news.append(("case_completed", _epoch(order["completed_at"])))
    if case.get("status") == "closed" and case.get("closed_at"):
        news.append(("case_closed", _epoch(case["closed_at"])))
    return news


def _epoch(value: datetime | str) -> float:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.timestamp()
