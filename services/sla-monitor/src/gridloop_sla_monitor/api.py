"""sla-monitor's HTTP API: an order's clocks, the SLA board and the on-time rates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from gridloop_common.contracts.sla import ClockName
from gridloop_common.http import app_deps, problem
from gridloop_common.periods import EXPECTED_FORMATS, InvalidPeriod, parse_period
from gridloop_common.staff import authenticated_staff
from gridloop_sla_monitor.board import board, order_statuses, rates
from gridloop_sla_monitor.bootstrap import SlaMonitorDeps
from gridloop_sla_monitor.clocks import Colour, TimerState, Verdict, colour
from gridloop_sla_monitor.timer import Timer

Deps = Annotated[SlaMonitorDeps, Depends(app_deps)]

router = APIRouter(
    prefix="/v1",
    tags=["sla"],
    # A department's standing and every order's clocks: the center's and its viewers' reading.
    dependencies=[Depends(authenticated_staff)],
    responses={
        401: {"description": "no key, or neither the operator's nor the viewer's"},
        503: {"description": "OPERATOR_API_KEY is not configured, or the database is away"},
    },
)


class MarkView(BaseModel):
    threshold: float
    at: datetime
    fired_at: datetime | None = None
    skipped: bool = False


class ClockView(BaseModel):
    clock: ClockName
    state: str
    colour: Colour | None = None
    order_id: str
    department: str
    calendar: str | None = None
    started_at: datetime | None = None
    due_at: datetime | None = None
    marks: list[MarkView] = []
    fired_at: datetime | None = None
    late_seconds: float | None = None
    settled_at: datetime | None = None
    verdict: Verdict | None = None
    stop_reason: str | None = None
    rejected_at: datetime | None = None
    # Complete clocks: the orders that held this share's clock, in turn.
    orders: list[str] = []
    extensions: list[dict[str, Any]] = []


class OrderClocks(BaseModel):
    order_id: str
    case_id: str
    department: str
    clocks: list[ClockView]


class Problem(BaseModel):
    code: str
    detail: str


def clock_view(record: Timer, now: datetime) -> ClockView:
    shown = ClockView(
        clock=record.clock,
        state=record.state.value,
        order_id=record.order_id,
        department=record.department,
        calendar=record.calendar,
        started_at=record.started_at,
        due_at=record.due_at,
        marks=[
            MarkView(threshold=m.threshold, at=m.at, fired_at=m.fired_at, skipped=m.skipped)
            for m in record.marks
        ],
        fired_at=record.fired_at,
        late_seconds=record.late_seconds,
        settled_at=record.settled_at,
        verdict=record.verdict,
        stop_reason=record.stop_reason,
        rejected_at=record.rejected_at,
        orders=list(record.orders),
        extensions=[
            {"extended_at": e.extended_at, "from": e.before, "to": e.after, "applied": e.applied}
            for e in record.extensions
        ],
    )
    if record.state in (TimerState.RUNNING, TimerState.BREACHED):
        shown.colour = colour(record.schedule, record.state, now)
    return shown


@router.get(
    "/timers/{order_id}",
    summary="The SLA clocks of an order: its accept clock and its share's complete clock",
    response_model=OrderClocks,
    responses={404: {"model": Problem, "description": "No clock known for this order"}},
)
async def get_timers(order_id: str, deps: Deps) -> Any:
    records = await deps.timers.for_order(order_id)
    if not records:
        return problem(404, "order_not_found", f"no SLA clock known for order {order_id}")
    now = deps.clock.now()
    return OrderClocks(
        order_id=order_id,
        case_id=records[0].case_id,
        department=records[0].department,
        clocks=[clock_view(record, now) for record in records],
    )


@router.get(
    "/board",
    summary="Open orders by colour per department and per township, most overdue first",
)
async def get_board(
    deps: Deps,
    limit: Annotated[
        int, Query(ge=0, le=1000, description="Orders listed per department, township and overall")
    ] = 20,
    department: Annotated[str | None, Query(description="Only this department's orders")] = None,
    township_id: Annotated[str | None, Query(description="Only this township's orders")] = None,
) -> dict[str, Any]:
    now = deps.clock.now()
    clocks = await deps.timers.open_clocks()
    statuses = order_statuses(clocks, now, deps.policy.calendars)
    if department is not None:
        statuses = [s for s in statuses if s.department == department]
    if township_id is not None:
        statuses = [s for s in statuses if s.township_id == township_id]
    return board(statuses, now, limit)


@router.get(
    "/rates",
    summary="On-time acceptance and completion rates per department and overall",
    responses={422: {"description": "`period` is not YYYY-MM, YYYY-Qn or YYYY"}},
)
async def get_rates(
    deps: Deps,
    period: Annotated[
        str | None,
        Query(
            description=(
                "Only clocks decided in this Asia/Shanghai month, quarter or year (a met clock "
                "when it was met, a late one when its deadline passed); all time if absent"
            ),
            examples=["2026-11", "2026-Q4", "2026"],
        ),
    ] = None,
) -> Any:
    if period is not None:
        try:
            parse_period(period)
        except InvalidPeriod as error:
            return problem(
                422,
                "invalid_period",
                str(error),
                parameter="period",
                expected_formats=list(EXPECTED_FORMATS.values()),
            )
    rows = await deps.timers.verdicts(period)
    return {"period": period, "timezone": "Asia/Shanghai", **rates(rows)}
