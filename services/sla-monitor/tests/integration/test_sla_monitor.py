"""sla-monitor on the real broker and database, hours moved by an injected clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from gridloop_common.clock import ManualClock
from gridloop_common.contracts import (
    EVENTS_EXCHANGE,
    CaseAccepted,
    CaseClosed,
    CaseCompleted,
    CaseDispatched,
    CaseExtended,
    CaseRejected,
    Message,
)
from gridloop_common.messaging import Outgoing, Publisher, envelope
from gridloop_common.mongo import Client, Collection, Document, create_client
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.polling import eventually
from gridloop_sla_monitor.app import create_app
from gridloop_sla_monitor.bootstrap import SlaMonitorDeps
from gridloop_sla_monitor.clocks import Colour
from gridloop_sla_monitor.leases import LeaseKeeper, Partitioning
from gridloop_sla_monitor.repository import LEASES, TIMERS, LeaseRepository, TimerRepository
from gridloop_sla_monitor.scanner import TimerScanner
from gridloop_sla_monitor.settings import SlaMonitorSettings

pytestmark = pytest.mark.integration

OPERATOR_KEY = "sla-test-operator-key"
VIEWER_KEY = "sla-test-viewer-key"

HOUR = timedelta(hours=1)
CITY = "city-mgmt"
GRID = "grd-xijin-001-01"
TOWNSHIP = "xijin"


@dataclass
class Probe:
    """Every `sla.*` event published, as (routing key, CloudEvent) pairs."""

    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            self.seen.append((message.routing_key or "", json.loads(message.body)))

    def of(self, order_id: str, routing_key: str | None = None) -> list[dict[str, Any]]:
        return [
            event
            for key, event in self.seen
            if event["data"]["order_id"] == order_id and routing_key in (None, key)
        ]

    def keys(self, order_id: str) -> list[str]:
        return [key for key, event in self.seen if event["data"]["order_id"] == order_id]

    async def arrived(self, order_id: str, routing_key: str, count: int = 1) -> list[Any]:
        async def matching() -> list[dict[str, Any]] | None:
            found = self.of(order_id, routing_key)
            return found if len(found) >= count else None

        return await eventually(matching, what=f"{count} × {routing_key} for {order_id}")


@dataclass
class Running:
    deps: SlaMonitorDeps
    http: httpx.AsyncClient
    stopped: bool = False

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.deps.runtime.stop()


@dataclass
class Sla:
    """The test's view: a clock to move, a publisher, a probe, the timers collection."""

    isolated: Isolated
    clock: ManualClock
    publisher: Publisher
    probe: Probe
    timers: Collection
    start_service: Callable[..., Awaitable[Running]]
    running: list[Running] = field(default_factory=list)

    @property
    def service(self) -> Running:
        return self.running[-1]

    async def publish(self, message: Message, correlation_id: str | None = None) -> None:
        await self.publisher.publish(
            envelope(
                message,
                source="test/dispatch",
                time=self.clock.now(),
                correlation_id=correlation_id,
            )
        )

    async def timer(self, timer_id: str) -> Document | None:
        return await self.timers.find_one({"_id": timer_id})

    async def timer_in(self, timer_id: str, *states: str) -> Document:
        async def probe() -> Document | None:
            document = await self.timer(timer_id)
            return document if document is not None and document["state"] in states else None

        return await eventually(probe, what=f"{timer_id} in {states}")

    async def clocks(self, order_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            response = await self.service.http.get(f"/v1/timers/{order_id}")
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        return await eventually(probe, what=f"clocks of {order_id}")

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.service.deps.scanner.nudge()

    async def quiet_marker(self, name: str) -> None:
        """Publish an order already overdue and wait for its breach: everything the scan could
        have announced before it, it has (the scan goes earliest first, partitions in turn)."""
        marker = f"{name}-marker"
        now = self.clock.now()
        await self.publish(dispatched(marker, at=now - 9 * HOUR, accept=8 * HOUR))
        await self.probe.arrived(marker, f"sla.breached.accept.{CITY}")


def dispatched(
    order: str,
    *,
    at: datetime,
    case: str | None = None,
    department: str = CITY,
    accept: timedelta = 8 * HOUR,
    complete: timedelta = 72 * HOUR,
    role: str | None = "sole",
    reason: str = "routed",
    previous: str | None = None,
) -> CaseDispatched:
    return CaseDispatched(
        case_id=case or f"case-{order}",
        order_id=order,
        department=department,
        category_code="road-damage",
        grid_id=GRID,
        township_id=TOWNSHIP,
        dispatched_at=at,
        accept_by=at + accept,
        complete_by=at + complete,
        role=role,  # type: ignore[arg-type]
        dispatch_reason=reason,
        previous_order_id=previous,
    )


def common(order: str, case: str | None, department: str) -> dict[str, Any]:
    return {
        "case_id": case or f"case-{order}",
        "order_id": order,
        "department": department,
        "category_code": "road-damage",
        "grid_id": GRID,
        "township_id": TOWNSHIP,
    }


def accepted(
    order: str, *, at: datetime, case: str | None = None, department: str = CITY
) -> CaseAccepted:
    return CaseAccepted(**common(order, case, department), accepted_at=at)


def rejected(
    order: str, *, at: datetime, case: str | None = None, department: str = CITY
) -> CaseRejected:
    return CaseRejected(**common(order, case, department), rejected_at=at, reason_code="not-ours")


def completed(
    order: str,
    *,
    at: datetime,
    case: str | None = None,
    department: str = CITY,
    case_complete: bool = True,
) -> CaseCompleted:
    return CaseCompleted(
        **common(order, case, department), completed_at=at, case_complete=case_complete
    )


def extended(
    order: str,
    *,
    at: datetime,
    complete_by: datetime,
    previous: datetime,
    case: str | None = None,
    department: str = CITY,
) -> CaseExtended:
    return CaseExtended(
        **common(order, case, department),
        extended_at=at,
        complete_by=complete_by,
        previous_complete_by=previous,
    )


def closed(
    order: str, *, at: datetime, case: str | None = None, department: str = CITY
) -> CaseClosed:
    return CaseClosed(**common(order, case, department), closed_at=at, satisfied=True)


def service_settings(isolated: Isolated, **overrides: Any) -> SlaMonitorSettings:
    values: dict[str, Any] = {
        "rabbitmq_url": isolated.rabbitmq_url,
        "mongodb_url": isolated.mongodb_url,
        "mongodb_database": isolated.database("sla-monitor"),
        "retry_delays_ms": (50, 100, 200, 400),
        "sla_tick_seconds": 0.05,
        "sla_lease_seconds": 1.0,
        "sla_partitions": 4,
        "sla_warning_thresholds": (0.5, 0.75),
        "outbox_sweep_interval_seconds": 0.2,
        "outbox_grace_seconds": 0.5,
        # The manual clock stands still between steps: judge a mark as soon as it is due and
        # the inbox is empty (the grace has tests of its own).
        "sla_evidence_grace_seconds": 0,
        # An event that overtook another waits half a second before its retries count.
        "wait_for_earlier_seconds": 0.5,
        "operator_api_key": OPERATOR_KEY,
        "viewer_api_key": VIEWER_KEY,
        **overrides,
    }
    return SlaMonitorSettings(**values)


@pytest.fixture
async def sla(
    isolated: Isolated, mongo_client: Client, amqp: AbstractChannel
) -> AsyncIterator[Sla]:
    # The probe is bound before the service starts: its events are published `mandatory`.
    probe = Probe()
    queue = await amqp.declare_queue(exclusive=True)
    await queue.bind(EVENTS_EXCHANGE, "sla.#")
    await queue.consume(probe.on_message)
    clock = ManualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai
    opened: list[tuple[Running, httpx.AsyncClient]] = []

    async def start_service(**overrides: Any) -> Running:
        app = create_app(service_settings(isolated, **overrides), clock)
        deps: SlaMonitorDeps = app.state.deps
        await deps.runtime.start()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://sla",
            headers={"X-Api-Key": OPERATOR_KEY},
        )
        running = Running(deps, http)
        opened.append((running, http))
        state.running.append(running)
        # Partitions leased: the scan watches every timer from here on.
        await eventually(
            lambda: _all_leased(deps), what="the replica holds its partitions", timeout=10
        )
        return running

    state = Sla(
        isolated=isolated,
        clock=clock,
        publisher=Publisher(amqp, app_id="test"),
        probe=probe,
        timers=mongo_client[isolated.database("sla-monitor")][TIMERS],
        start_service=start_service,
    )
    try:
        yield state
    finally:
        for running, http in opened:
            await http.aclose()
            await running.stop()


async def _all_leased(deps: SlaMonitorDeps) -> bool:
    return len(deps.leases.owned()) == deps.settings.sla_partitions


MINUTE = timedelta(minutes=1)
WARNING = f"sla.warning.accept.{CITY}"
BREACHED = f"sla.breached.accept.{CITY}"
MET = f"sla.met.accept.{CITY}"
LATE = f"sla.settled_late.accept.{CITY}"


def at(event: dict[str, Any], name: str) -> datetime:
    return datetime.fromisoformat(event["data"][name])


async def test_yellow_warnings_then_the_red_breach_then_the_late_acceptance_each_once(
    sla: Sla,
) -> None:
    await sla.start_service()
    start = sla.clock.now()
    await sla.publish(dispatched("o-late", at=start), correlation_id="corr-late")
    await sla.clocks("o-late")

    await sla.advance(4 * HOUR)
    [half] = await sla.probe.arrived("o-late", WARNING)
    assert half["data"]["threshold"] == 0.5
    await sla.advance(2 * HOUR)
    await sla.probe.arrived("o-late", WARNING, count=2)
    assert (await sla.clocks("o-late"))["clocks"][0]["colour"] == Colour.YELLOW

    await sla.advance(2 * HOUR + timedelta(seconds=1))
    [breach] = await sla.probe.arrived("o-late", BREACHED)
    data = breach["data"]
    assert breach["correlationid"] == "corr-late"
    assert (data["order_id"], data["case_id"], data["department"]) == (
        "o-late",
        "case-o-late",
        CITY,
    )
    assert (data["township_id"], data["grid_id"], data["category_code"]) == (
        TOWNSHIP,
        GRID,
        "road-damage",
    )
    assert at(breach, "deadline") == start + 8 * HOUR
    assert at(breach, "fired_at") == sla.clock.now()
    assert data["late_seconds"] == 1.0
    assert (await sla.clocks("o-late"))["clocks"][0]["colour"] == Colour.RED

    # Accepted three hours late: recorded as such, and the breach is not announced again.
    await sla.advance(3 * HOUR)
    await sla.publish(accepted("o-late", at=sla.clock.now()))
    [late] = await sla.probe.arrived("o-late", LATE)
    assert late["data"]["late_seconds"] == 3 * 3600 + 1
    assert at(late, "breached_at") == at(breach, "fired_at")
    await sla.publish(dispatched("o-late", at=start))  # a redelivered dispatch rearms nothing
    await sla.quiet_marker("late")
    assert sla.probe.keys("o-late") == [WARNING, WARNING, BREACHED, LATE]
    view = await sla.clocks("o-late")
    accept = view["clocks"][0]
    assert (accept["state"], accept["verdict"]) == ("late", "late")
    assert [m["fired_at"] is not None for m in accept["marks"]] == [True, True, True]


async def test_accepted_in_time_is_met_even_when_the_acceptance_overtakes_its_dispatch(
    sla: Sla,
) -> None:
    await sla.start_service()
    now = sla.clock.now()
    await sla.publish(dispatched("o-on-time", at=now))
    await sla.clocks("o-on-time")
    await sla.publish(accepted("o-on-time", at=now + HOUR))
    # The acceptance comes first: retried until its dispatch has started the clock.
    await sla.publish(accepted("o-early", at=now + HOUR))
    await sla.publish(dispatched("o-early", at=now))
    for order in ("o-on-time", "o-early"):
        [met] = await sla.probe.arrived(order, MET)
        assert at(met, "met_at") == now + HOUR
    await sla.advance(9 * HOUR)
    await sla.quiet_marker("met")
    for order in ("o-on-time", "o-early"):
        assert sla.probe.keys(order) == [MET]
        accept = (await sla.clocks(order))["clocks"][0]
        assert (accept["state"], accept["verdict"]) == ("met", "met")


async def test_an_acceptance_made_in_time_but_heard_after_the_deadline_is_met_not_breached(
    sla: Sla,
) -> None:
    # Two minutes for a case event to arrive (the default is seconds; the clock is manual).
    await sla.start_service(sla_evidence_grace_seconds=120)
    start = sla.clock.now()
    await sla.publish(dispatched("o-slow-news", at=start))
    await sla.clocks("o-slow-news")
    # The deadline passes here before the acceptance, made a second before it, arrives (it
    # waited in dispatch's outbox through a broker outage): within the grace nothing is judged.
    await sla.advance(8 * HOUR + timedelta(seconds=30))
    await sla.publish(accepted("o-slow-news", at=start + 8 * HOUR - timedelta(seconds=1)))
    [met] = await sla.probe.arrived("o-slow-news", MET)
    assert at(met, "met_at") == start + 8 * HOUR - timedelta(seconds=1)
    await sla.advance(timedelta(minutes=5))
    await sla.quiet_marker("slow-news")
    keys = sla.probe.keys("o-slow-news")
    assert BREACHED not in keys and keys[-1] == MET


async def test_a_completion_that_overtakes_the_acceptance_waits_for_it(sla: Sla) -> None:
    # The scan judges nothing younger than 58 minutes here: only the handlers decide.
    await sla.start_service(sla_evidence_grace_seconds=3500)
    now = sla.clock.now()
    await sla.publish(dispatched("o-overtaken", at=now, accept=HOUR / 2, complete=4 * HOUR))
    await sla.clocks("o-overtaken")
    await sla.advance(HOUR + 20 * MINUTE)
    # Accepted after ten minutes, completed after eighty: the completion is handled first.
    await sla.publish(completed("o-overtaken", at=now + HOUR + 20 * MINUTE))
    await sla.publish(accepted("o-overtaken", at=now + 10 * MINUTE))
    await sla.probe.arrived("o-overtaken", MET)
    await sla.probe.arrived("o-overtaken", f"sla.met.complete.{CITY}")
    await sla.quiet_marker("overtaken")
    assert BREACHED not in sla.probe.keys("o-overtaken")


async def test_an_old_rounds_completion_handled_late_leaves_the_reopened_rounds_clocks(
    sla: Sla,
) -> None:
    await sla.start_service()
    now = sla.clock.now()
    case = "case-rounds"
    await sla.publish(dispatched("o-round-1", at=now, case=case))
    await sla.publish(accepted("o-round-1", at=now + MINUTE, case=case))
    await sla.probe.arrived("o-round-1", MET)
    # Round 1 completed after an hour and the reporter reopened the case; the completion is
    # handled only after round 2's dispatch (an outage delayed it).
    await sla.publish(
        dispatched(
            "o-round-2", at=now + 2 * HOUR, case=case, reason="reopened", previous="o-round-1"
        )
    )
    await sla.clocks("o-round-2")
    await sla.publish(completed("o-round-1", at=now + HOUR, case=case))
    await sla.probe.arrived("o-round-1", f"sla.met.complete.{CITY}")
    await sla.advance(11 * HOUR)  # round 2 never accepted: its accept clock must still run
    await sla.probe.arrived("o-round-2", BREACHED)


async def test_a_deadline_is_judged_once_the_grace_has_passed(sla: Sla) -> None:
    await sla.start_service(sla_evidence_grace_seconds=120)
    start = sla.clock.now()
    await sla.publish(dispatched("o-silent", at=start, accept=HOUR))
    await sla.clocks("o-silent")
    await sla.advance(HOUR + timedelta(seconds=119))
    await sla.quiet_marker("silent-early")
    assert BREACHED not in sla.probe.keys("o-silent")
    await sla.advance(timedelta(seconds=2))
    [breach] = await sla.probe.arrived("o-silent", BREACHED)
    assert at(breach, "deadline") == start + HOUR


async def test_replies_dated_past_the_deadline_breach_even_before_the_scan_sees_it(
    sla: Sla,
) -> None:
    await sla.start_service()
    now = sla.clock.now()
    for order in ("o-late-reject", "o-late-accept"):
        await sla.publish(dispatched(order, at=now))
        await sla.clocks(order)
    # Dispatch's clock says nine hours passed; this replica's scan has not reached the deadline.
    await sla.publish(rejected("o-late-reject", at=now + 9 * HOUR))
    await sla.publish(accepted("o-late-accept", at=now + 9 * HOUR))
    [breach] = await sla.probe.arrived("o-late-reject", BREACHED)
    assert breach["data"]["late_seconds"] == 3600
    await sla.probe.arrived("o-late-accept", LATE)
    stopped = await sla.timer_in("o-late-reject:accept", "stopped")
    assert (stopped["stop_reason"], stopped["verdict"]) == ("rejected", "late")

    await sla.advance(10 * HOUR)
    await sla.quiet_marker("replies")
    assert sla.probe.keys("o-late-reject") == [BREACHED]
    assert sla.probe.keys("o-late-accept") == [BREACHED, LATE]


async def test_an_extension_approved_after_the_deadline_does_not_undo_the_breach(
    sla: Sla,
) -> None:
    await sla.start_service()
    now = sla.clock.now()
    await sla.publish(dispatched("o-late-ext", at=now))
    await sla.publish(accepted("o-late-ext", at=now + HOUR))
    await sla.clocks("o-late-ext")
    # The approval is dated an hour past complete-by (72 h), and heard before the scan got there
    # (as after an outage): the deadline does not move, the breach is announced and stands.
    await sla.publish(
        extended(
            "o-late-ext",
            at=now + 73 * HOUR,
            complete_by=now + 100 * HOUR,
            previous=now + 72 * HOUR,
            case="case-o-late-ext",
            department=CITY,
        )
    )

    async def recorded() -> bool:
        timer = await sla.timer("o-late-ext:complete")
        return timer is not None and bool(timer.get("extensions"))

    await eventually(recorded, what="the late approval recorded")
    timer = await sla.timer("o-late-ext:complete")
    assert timer is not None and timer["due_at"] == now + 72 * HOUR
    assert [e["applied"] for e in timer["extensions"]] == [False]
    sla.clock.set(now + 74 * HOUR)
    await sla.advance(timedelta(0))
    await sla.probe.arrived("o-late-ext", f"sla.breached.complete.{CITY}")


async def test_rejection_redispatch_extension_and_completion_move_the_right_clocks(
    sla: Sla,
) -> None:
    await sla.start_service()
    t0 = sla.clock.now()
    case = "case-bounced"
    await sla.publish(dispatched("o-first", at=t0, case=case))
    await sla.clocks("o-first")

    # The first unit rejects in time: its accept clock stops, nothing is announced.
    await sla.advance(HOUR)
    await sla.publish(rejected("o-first", at=sla.clock.now(), case=case))
    first = await sla.timer_in("o-first:accept", "stopped")
    assert (first["stop_reason"], first.get("verdict")) == ("rejected", None)

    # The center re-dispatches to housing: a new accept clock, the case's complete clock.
    await sla.advance(HOUR)
    redispatched_at = sla.clock.now()
    await sla.publish(
        dispatched(
            "o-second",
            at=redispatched_at,
            case=case,
            department="housing",
            reason="redispatch",
            previous="o-first",
        )
    )
    view = await sla.clocks("o-second")
    accept, complete = view["clocks"]
    assert datetime.fromisoformat(accept["due_at"]) == redispatched_at + 8 * HOUR
    assert datetime.fromisoformat(complete["due_at"]) == t0 + 72 * HOUR  # not re-stamped
    assert (complete["order_id"], complete["department"]) == ("o-second", "housing")
    assert complete["orders"] == ["o-first", "o-second"]

    # Housing does not accept in time: its own accept clock breaches, under its own name.
    await sla.advance(8 * HOUR + timedelta(seconds=1))
    await sla.probe.arrived("o-second", "sla.breached.accept.housing")
    await sla.publish(accepted("o-second", at=sla.clock.now(), case=case, department="housing"))
    await sla.probe.arrived("o-second", "sla.settled_late.accept.housing")

    # An approved extension moves complete-by from 72 h to 100 h after the first dispatch.
    await sla.publish(
        extended(
            "o-second",
            at=sla.clock.now(),
            complete_by=t0 + 100 * HOUR,
            previous=t0 + 72 * HOUR,
            case=case,
            department="housing",
        )
    )

    async def moved() -> bool:
        timer = await sla.timer("o-first:complete")
        return timer is not None and timer["due_at"] == t0 + 100 * HOUR

    await eventually(moved, what="complete-by moved by the extension")
    # Past the old deadline: only the half-way warning of the longer window, no breach.
    sla.clock.set(t0 + 73 * HOUR)
    await sla.advance(timedelta(0))
    [warning] = await sla.probe.arrived("o-second", "sla.warning.complete.housing")
    assert at(warning, "deadline") == t0 + 100 * HOUR
    assert warning["data"]["threshold"] == 0.5
    await sla.publish(completed("o-second", at=sla.clock.now(), case=case, department="housing"))
    [met] = await sla.probe.arrived("o-second", "sla.met.complete.housing")
    assert at(met, "deadline") == t0 + 100 * HOUR

    await sla.quiet_marker("bounced")
    assert sla.probe.keys("o-first") == []
    assert sla.probe.keys("o-second") == [
        "sla.breached.accept.housing",
        "sla.settled_late.accept.housing",
        "sla.warning.complete.housing",
        "sla.met.complete.housing",
    ]


async def test_a_joint_action_has_clocks_per_unit_and_closing_stops_every_one(sla: Sla) -> None:
    await sla.start_service()
    now = sla.clock.now()
    case = "case-joint"
    await sla.publish(dispatched("o-lead", at=now, case=case, role="lead", reason="joint-action"))
    await sla.publish(
        dispatched(
            "o-coop",
            at=now,
            case=case,
            department="housing",
            role="cooperating",
            reason="joint-action",
        )
    )
    lead, coop = await sla.clocks("o-lead"), await sla.clocks("o-coop")
    assert lead["clocks"][1]["orders"] == ["o-lead"]
    assert coop["clocks"][1]["orders"] == ["o-coop"]

    await sla.advance(HOUR)
    await sla.publish(accepted("o-coop", at=sla.clock.now(), case=case, department="housing"))
    await sla.publish(
        completed(
            "o-coop", at=sla.clock.now(), case=case, department="housing", case_complete=False
        )
    )
    await sla.probe.arrived("o-coop", "sla.met.complete.housing")
    # The lead's clocks still run; the center closes the case: they stop without a verdict.
    await sla.publish(closed("o-lead", at=sla.clock.now(), case=case))
    for timer in ("o-lead:accept", "o-lead:complete"):
        stopped = await sla.timer_in(timer, "stopped")
        assert stopped["stop_reason"] == "case_closed"
    await sla.advance(100 * HOUR)
    await sla.quiet_marker("joint")
    assert sla.probe.keys("o-lead") == []
    assert sla.probe.keys("o-coop") == [
        "sla.met.accept.housing",
        "sla.met.complete.housing",
    ]


async def test_timers_due_while_the_service_was_down_fire_at_once_and_once(sla: Sla) -> None:
    first = await sla.start_service()
    now = sla.clock.now()
    orders = [f"o-down-{n}" for n in range(12)]
    for order in orders:
        await sla.publish(dispatched(order, at=now))
    for order in orders:
        await sla.clocks(order)
    await first.stop()

    await sla.advance(9 * HOUR)  # nothing runs: the service is down
    await sla.start_service()
    for order in orders:
        await sla.probe.arrived(order, BREACHED)
    await sla.quiet_marker("down")
    for order in orders:
        # The warnings passed while down are recorded as skipped, not announced late.
        assert sla.probe.keys(order) == [BREACHED]
    skipped = await sla.timer(f"{orders[0]}:accept")
    assert skipped is not None
    assert [m.get("skipped", False) for m in skipped["marks"]] == [True, True, False]


async def test_a_department_with_office_hours_counts_only_working_time(sla: Sla) -> None:
    await sla.start_service(
        sla_calendars='{"city-mgmt": {"hours": ["08:30-17:30"], "timezone": "Asia/Shanghai"}}'
    )
    # Saturday 28 November, 10:00 in Shanghai (02:00 UTC).
    saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    sla.clock.set(saturday)
    await sla.publish(dispatched("o-office", at=saturday))
    accept = (await sla.clocks("o-office"))["clocks"][0]
    assert accept["calendar"] == "working-hours:city-mgmt"
    # Eight working hours from Monday 08:30 end at 16:30 Shanghai, 08:30 UTC.
    monday_deadline = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    assert datetime.fromisoformat(accept["due_at"]) == monday_deadline

    await sla.advance(30 * HOUR)  # Sunday afternoon: no working time has passed
    assert (await sla.clocks("o-office"))["clocks"][0]["colour"] == Colour.GREEN
    sla.clock.set(monday_deadline + timedelta(seconds=2))
    await sla.advance(timedelta(0))
    [breach] = await sla.probe.arrived("o-office", BREACHED)
    assert breach["data"]["calendar"] == "working-hours:city-mgmt"
    assert breach["data"]["late_seconds"] == 2.0
    # The marks before it were passed together with it by one scan: only the breach is sent.
    assert sla.probe.keys("o-office") == [BREACHED]


async def test_the_board_shows_open_orders_by_colour_and_rates_count_verdicts(sla: Sla) -> None:
    await sla.start_service()
    now = sla.clock.now()
    await sla.publish(dispatched("o-board-met", at=now - 2 * HOUR, department="water"))
    await sla.publish(dispatched("o-board-yellow", at=now - 7 * HOUR))
    await sla.publish(dispatched("o-board-red", at=now - 9 * HOUR))
    await sla.publish(dispatched("o-board-green", at=now))
    for order in ("o-board-met", "o-board-yellow", "o-board-red", "o-board-green"):
        await sla.clocks(order)
    await sla.publish(accepted("o-board-met", at=now, department="water"))
    await sla.probe.arrived("o-board-met", "sla.met.accept.water")
    await sla.probe.arrived("o-board-red", BREACHED)

    response = await sla.service.http.get("/v1/board", params={"limit": 10})
    assert response.status_code == 200
    board = response.json()
    # Four open orders: the met one still has its complete clock running.
    assert board["totals"] == {"green": 2, "yellow": 1, "red": 1, "open": 4}
    city = next(row for row in board["departments"] if row["department"] == CITY)
    assert [o["order_id"] for o in city["orders"]] == [
        "o-board-red",
        "o-board-yellow",
        "o-board-green",
    ]
    assert city["orders"][0]["overdue_seconds"] == 3600
    assert board["townships"][0]["township_id"] == TOWNSHIP

    rates = (await sla.service.http.get("/v1/rates", params={"period": "2026-11"})).json()
    assert rates["overall"]["acceptance"] == {"on_time": 1, "late": 1, "rate": 0.5}
    by_department = {row["department"]: row for row in rates["departments"]}
    assert by_department["water"]["acceptance"]["rate"] == 1.0
    assert by_department[CITY]["acceptance"]["rate"] == 0.0
    elsewhere = (await sla.service.http.get("/v1/rates", params={"period": "2026-Q1"})).json()
    assert elsewhere["overall"]["acceptance"]["rate"] is None

    bad = await sla.service.http.get("/v1/rates", params={"period": "November"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_period"
    assert bad.json()["expected_formats"] == ["YYYY-MM", "YYYY-Qn", "YYYY"]


async def test_unknown_order_is_a_machine_readable_404(sla: Sla) -> None:
    await sla.start_service()
    response = await sla.service.http.get("/v1/timers/no-such-order")
    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (OPERATOR_KEY, 200, None),
        (VIEWER_KEY, 200, None),
        (None, 401, "missing_api_key"),
        ("dev-operator-key", 401, "invalid_api_key"),
    ],
)
async def test_the_board_and_rates_are_the_staffs_reading(
    sla: Sla, key: str | None, status: int, code: str | None
) -> None:
    await sla.start_service()
    headers = {} if key is None else {"X-Api-Key": key}
    for path in ("/v1/board", "/v1/rates?period=2026-11", "/v1/timers/no-such-order"):
        # Replacing the client's default header: None drops it.
        response = await sla.service.http.get(path, headers={"X-Api-Key": "", **headers})
        expected = 404 if status == 200 and "timers" in path else status
        assert response.status_code == expected, (path, response.text)
        if code is not None:
            assert response.json()["code"] == code


# --- replicas --------------------------------------------------------------------------------


async def test_two_replicas_split_the_partitions_and_a_survivor_takes_over_a_dead_ones(
    isolated: Isolated,
) -> None:
    database = isolated.database("sla-monitor")
    clients = [create_client(isolated.mongodb_url) for _ in range(2)]
    try:
        stores = [LeaseRepository(client[database][LEASES]) for client in clients]
        a, b = (
            LeaseKeeper(store, Partitioning(store, 8), replica=name, lease_seconds=0.9)
            for store, name in zip(stores, ("replica-a", "replica-b"), strict=True)
        )
        await a.round()  # alone: takes everything
        assert a.owned() == tuple(range(8))
        await b.round()  # sees two replicas, but every lease is held
        await a.round()  # above its share: hands half over
        await b.round()  # takes the released half
        assert len(a.owned()) == len(b.owned()) == 4
        assert set(a.owned()) | set(b.owned()) == set(range(8))

        # "a" stops renewing (as if killed): once its leases and heartbeat expire, "b" has all.
        async def b_holds_everything() -> bool:
            await b.round()
            return b.owned() == tuple(range(8))

        await eventually(b_holds_everything, what="b takes over a's partitions", interval=0.2)
        # A partition count set later by another replica cannot move timers already stored.
        assert await Partitioning(stores[0], 32).count() == 8
    finally:
        for client in clients:
            await client.close()


@dataclass
class RecordingRelay:
    notified: list[str] = field(default_factory=list)

    def __call__(
        self, collection: Collection, document_id: Any, outgoings: Sequence[Outgoing] = ()
    ) -> None:
        self.notified.append(document_id)


async def test_scans_overlapping_during_a_handover_still_fire_each_clock_once(
    isolated: Isolated, mongo_client: Client
) -> None:
    database = isolated.database("sla-monitor")
    clock = ManualClock()
    due = clock.now() - timedelta(seconds=5)
    ids = [f"o-replica-{n}:accept" for n in range(40)]
    await mongo_client[database][TIMERS].insert_many(
        [
            {
                "_id": timer,
                "order_id": timer.split(":")[0],
                "case_id": "case-x",
                "department": CITY,
                "clock": "accept",
                "partition": 0,
                "state": "running",
                "started_at": due - 8 * HOUR,
                "due_at": due,
                "marks": [{"threshold": 0.75, "at": due - 2 * HOUR}, {"threshold": 1.0, "at": due}],
                "passed": 0,
                "next_at": due - 2 * HOUR,
            }
            for timer in ids
        ]
    )
    relays = [RecordingRelay(), RecordingRelay()]
    # Two clients, as two processes would have; both believe they hold partition 0 (a lease
    # changing hands); a small batch forces several rounds of racing.
    clients = [create_client(isolated.mongodb_url) for _ in relays]
    scanners = [
        TimerScanner(
            TimerRepository(client[database][TIMERS], relay_now=relay),
            clock,
            lambda: [0],
            tick_seconds=0.05,
            batch=7,
            concurrency=4,
        )
        for client, relay in zip(clients, relays, strict=True)
    ]
    try:
        for _ in range(10):
            await asyncio.gather(*(scanner.scan_once() for scanner in scanners))
    finally:
        for client in clients:
            await client.close()

    fired = relays[0].notified + relays[1].notified
    assert sorted(fired) == sorted(ids)
    async for timer in mongo_client[database][TIMERS].find({}):
        assert timer["state"] == "breached"
        # One breach each; the warning passed with it was skipped, not announced.
        [entry] = timer["outbox"]
        assert entry["routing_key"] == f"sla.breached.accept.{CITY}"
