"""dispatch's use cases called directly, with cases kept in memory: the first rung of the ladder.

The state machine is tested on its own (test_lifecycle); the integration tests run the whole
service on the real broker and database. These sit between: what `DispatchService` adds to the
state machine — a repeat changes nothing, a reused Idempotency-Key is refused, a lost race reads
the case again, every stored change is handed to the relay — without any I/O.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from services.dispatch.tests.memory import AREAS, MemoryCases, service_over
from services.dispatch.tests.test_lifecycle import a_report

from gridloop_common.contracts import AcceptOrder, ReportProgress
from gridloop_dispatch.areas import AreaDirectory
from gridloop_dispatch.lifecycle import Refusal
from gridloop_dispatch.model import Case
from gridloop_dispatch.service import Cause, ConcurrentUpdates, DispatchService, Done


@pytest.fixture(scope="module")
def areas() -> AreaDirectory:
    return AREAS


async def opened_case(service: DispatchService) -> Case:
    case = await service.open_from_report(a_report(), Cause("report-event-1"))
    assert case is not None
    return case


async def test_a_report_opens_one_case_and_its_events_go_to_the_relay(
    areas: AreaDirectory,
) -> None:
    cases = MemoryCases()
    service = service_over(cases, areas)

    case = await opened_case(service)
    again = await service.open_from_report(a_report(), Cause("report-event-1"))

    assert again is None  # a redelivered report: the case exists, nothing is sent again
    assert list(cases.stored) == [case.case_id]
    assert [case_id for case_id, _ in cases.relayed] == [case.case_id]
    routing_keys = [o.routing_key for o in cases.relayed[0][1]]
    assert case.orders[0].department in routing_keys  # the work order to the unit's queue


async def test_a_reply_applied_twice_changes_the_case_once(areas: AreaDirectory) -> None:
    cases = MemoryCases()
    service = service_over(cases, areas)
    order = (await opened_case(service)).orders[0]
    accept = AcceptOrder(order_id=order.order_id, department=order.department)

    first = await service.reply(accept, order.department, Cause("msg-1"), via="amqp")
    repeat = await service.reply(accept, order.department, Cause("msg-1"), via="amqp")

    assert isinstance(first, Done) and not first.repeated
    assert first.case.status == "accepted"
    assert isinstance(repeat, Done) and repeat.repeated
    assert repeat.case.version == first.case.version
    assert len(cases.relayed) == 2  # the opening, the acceptance: nothing for the repeat


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    areas: AreaDirectory,
) -> None:
    cases = MemoryCases()
    service = service_over(cases, areas)
    order = (await opened_case(service)).orders[0]
    await service.reply(
        AcceptOrder(order_id=order.order_id, department=order.department),
        order.department,
        Cause("msg-accept"),
        via="amqp",
    )
    note = ReportProgress(order_id=order.order_id, department=order.department, note="已到场")
    keyed = Cause("http-key-1", fingerprint="body-a")

    first = await service.reply(note, order.department, keyed, via="http")
    reused = await service.reply(
        note, order.department, replace(keyed, fingerprint="body-b"), via="http"
    )

    assert isinstance(first, Done)
    assert isinstance(reused, Refusal)
    assert (reused.kind, reused.code) == ("invalid", "idempotency_key_reused")
    assert cases.stored[first.case.case_id].case.version == first.case.version


async def test_a_lost_race_reads_the_case_again_and_applies_once(areas: AreaDirectory) -> None:
    cases = MemoryCases()
    service = service_over(cases, areas)
    order = (await opened_case(service)).orders[0]
    accept = AcceptOrder(order_id=order.order_id, department=order.department)
    cases.lose_races = 2

    result = await service.reply(accept, order.department, Cause("msg-1"), via="amqp")

    assert isinstance(result, Done) and result.case.status == "accepted"
    assert cases.stored[result.case.case_id].applied == {"msg-1"}


async def test_a_case_that_keeps_changing_is_given_up_for_a_later_retry(
    areas: AreaDirectory,
) -> None:
    cases = MemoryCases()
    service = service_over(cases, areas)
    case = await opened_case(service)
    order = case.orders[0]
    cases.lose_races = 1_000

    with pytest.raises(ConcurrentUpdates):
        await service.reply(
            AcceptOrder(order_id=order.order_id, department=order.department),
            order.department,
            Cause("msg-1"),
            via="amqp",
        )
    assert cases.stored[case.case_id].case.status == "dispatched"
