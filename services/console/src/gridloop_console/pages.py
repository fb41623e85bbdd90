"""The console's main pages: sign-in, overview, SLA board, case feed and case page, and the
live stream that tells browsers what changed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from gridloop_common.catalogue import DEPARTMENTS
from gridloop_common.http_errors import ApiProblem
from gridloop_console.board import BoardFilter, board_rows, tally
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.case_view import Colour, fold
from gridloop_console.overview import PeriodFigures, Rate, day_start, month_start, per_hour
from gridloop_console.overview import sparkline as sparkline_points
from gridloop_console.sessions import COOKIE, Role
from gridloop_console.timeline import Entry
from gridloop_console.web import Deps, Visitor, form_fields, local_path, render

FEED_LENGTH = 50
KEEPALIVE_SECONDS = 15.0
# Changes within this window reach a browser as one signal (a burst is one refetch), and a
# browser is signalled at most once per interval however busy the city: each signal makes it
# fetch the board, and at 50 reports a second that would be ten fetches a second per screen.
# Changes during the interval are signalled at its end, so the last one is never dropped.
COALESCE_SECONDS = 0.25
SIGNAL_INTERVAL_SECONDS = 0.75

router = APIRouter(tags=["console"])


# ---- sign-in ----------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse, summary="The sign-in page")
async def signin_page(request: Request, deps: Deps, next: str = "/") -> HTMLResponse:
    return render(request, deps, "signin.html", back_to=local_path(next), error=None)


@router.post("/signin", response_class=HTMLResponse, summary="Sign in with a staff key (form)")
async def signin(request: Request, deps: Deps) -> Response:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise ApiProblem(
            415, "form_expected", "post the sign-in form (application/x-www-form-urlencoded)"
        )
    form = await form_fields(request)
    back_to = local_path(form.get("next", ["/"])[0])
    if not deps.sessions.enabled:
        return render(
            request, deps, "signin.html", status_code=503, back_to=back_to, error="console_disabled"
        )
    role = deps.sessions.role_of_key(form.get("key", [""])[0])
    if role is None:
        return render(
            request, deps, "signin.html", status_code=401, back_to=back_to, error="wrong_key"
        )
    response = RedirectResponse(back_to, status_code=303)
    response.set_cookie(
        COOKIE,
        deps.sessions.issue(role),
        max_age=deps.sessions.max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=deps.settings.session_cookie_secure,
    )
    return response


@router.post("/signout", summary="End the session")
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


# ---- overview ---------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, summary="Overview: today and this month")
async def overview(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    now = deps.clock.now()
    day, month = day_start(now), month_start(now)
    rows = board_rows(await deps.board.open_cases(), now)
    hourly = per_hour(await deps.reports.times_since(now - timedelta(hours=24)), now)
    return render(
        request,
        deps,
        "overview.html",
        role=role,
        today=await _figures(deps, day, now),
        month=await _figures(deps, month, now),
        colours=tally(rows).totals,
        breaches=await deps.feed.count_since("sla_breached", now - timedelta(hours=1)),
        hourly=hourly,
        sparkline=sparkline_points(hourly),
    )


async def _figures(deps: ConsoleDeps, start: datetime, end: datetime) -> PeriodFigures:
    cases = await deps.cases.counts_between(start, end)
    return PeriodFigures(
        reported=await deps.reports.count_between(start, end),
        dispatched=cases.dispatched,
        accepted_in_time=Rate(cases.accepted_in_time, cases.dispatched),
        completed_in_time=Rate(cases.completed_in_time, cases.dispatched),
        closed=cases.closed,
        satisfied=Rate(cases.satisfied, cases.closed),
    )


# ---- SLA board --------------------------------------------------------------------------------


def board_filter(
    clock: Annotated[str | None, Query()] = None,
    township: Annotated[str | None, Query()] = None,
    department: Annotated[str | None, Query()] = None,
    colour: Annotated[str | None, Query()] = None,
) -> BoardFilter:
    """The board's filters from the query; a value it does not know filters nothing."""
    return BoardFilter(
        clock=clock if clock in ("accept", "complete") else None,
        township_id=township or None,
        department=department or None,
        colour=colour if colour in tuple(Colour) else None,
    )


Wanted = Annotated[BoardFilter, Depends(board_filter)]


@router.get("/board", response_class=HTMLResponse, summary="SLA board: red / yellow / green")
async def board(request: Request, deps: Deps, role: Visitor, wanted: Wanted) -> HTMLResponse:
    return await _board(request, deps, role, "board.html", wanted)


@router.get("/board/table", response_class=HTMLResponse, summary="The board's live fragment")
async def board_table(request: Request, deps: Deps, role: Visitor, wanted: Wanted) -> HTMLResponse:
    return await _board(request, deps, role, "_board_table.html", wanted)


async def _board(
    request: Request, deps: ConsoleDeps, role: Role, template: str, wanted: BoardFilter
) -> HTMLResponse:
    now = deps.clock.now()
    open_cases = await deps.board.open_cases()
    everything = board_rows(open_cases, now)
    # Unfiltered (the usual wall screen): one pass over the open cases, not two.
    shown = everything if wanted == BoardFilter() else board_rows(open_cases, now, wanted)
    return render(
        request,
        deps,
        template,
        role=role,
        rows=shown[: deps.settings.board_limit],
        shown_count=len(shown),
        grid=tally(shown),
        wanted=wanted,
        townships=sorted({row.township_id for row in everything}),
        departments=sorted({row.department for row in everything}),
        query=str(request.url.query),
        now=now,
    )


# ---- cases ------------------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse, summary="Live feed of reports and hand-offs")
async def cases(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    return render(request, deps, "cases.html", role=role, items=await deps.feed.latest(FEED_LENGTH))


@router.get("/cases/feed", response_class=HTMLResponse, summary="The feed's live fragment")
async def cases_feed(request: Request, deps: Deps, role: Visitor) -> HTMLResponse:
    return render(request, deps, "_feed.html", role=role, items=await deps.feed.latest(FEED_LENGTH))


@router.get("/cases/{case_id}", response_class=HTMLResponse, summary="A case: timeline and clocks")
async def case_page(request: Request, deps: Deps, role: Visitor, case_id: str) -> HTMLResponse:
    return await show_case(request, deps, role, case_id)


@router.get(
    "/cases/{case_id}/timeline", response_class=HTMLResponse, summary="A case's live fragment"
)
async def case_timeline(request: Request, deps: Deps, role: Visitor, case_id: str) -> HTMLResponse:
    return await show_case(request, deps, role, case_id, template="_case_body.html")


async def show_case(
    request: Request,
    deps: ConsoleDeps,
    role: Role,
    case_id: str,
    *,
    template: str = "case.html",
    status_code: int = 200,
    action_error: Exception | None = None,
) -> HTMLResponse:
    document = await deps.cases.get(case_id)
    if document is None:
        return render(
            request, deps, "missing.html", role=role, status_code=404, message="not_found"
        )
    view = fold(case_id, [Entry.from_document(e) for e in document.get("entries", [])])
    report = await deps.reports.get(document["report_id"]) if document.get("report_id") else None
    now = deps.clock.now()
    return render(
        request,
        deps,
        template,
        role=role,
        case=document,
        view=view,
        report=report,
        rows=board_rows([document], now),
        now=now,
        departments=DEPARTMENTS,
        error=action_error,
        done=request.query_params.get("done"),
        idempotency_key=uuid.uuid4().hex,
        status_code=status_code,
    )


@router.get("/reports/{report_id}", response_class=HTMLResponse, summary="A report's case")
async def report_page(request: Request, deps: Deps, role: Visitor, report_id: str) -> Response:
    case_id = await deps.cases.case_of_report(report_id)
    if case_id is not None:
        return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)
    report = await deps.reports.get(report_id)
    message = "report_pending" if report is not None else "not_found"
    return render(
        request,
        deps,
        "missing.html",
        role=role,
        status_code=404 if report is None else 200,
        message=message,
        report=report,
    )


# ---- live -------------------------------------------------------------------------------------


@router.get("/live", response_class=EventSourceResponse, summary="Server-sent events: what changed")
async def live(deps: Deps, role: Visitor) -> AsyncIterator[ServerSentEvent]:
    """`board` and `feed` when anything changed, `case-<id>` for each case that did."""
    async with deps.hub.listen() as changes:
        yield ServerSentEvent(comment="connected", retry=2_000)
        while True:
            try:
                first = await asyncio.wait_for(changes.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ServerSentEvent(comment="keep-alive")
                continue
            burst_started = time.monotonic()
            await asyncio.sleep(COALESCE_SECONDS)
            burst = [first]
            while not changes.empty():
                burst.append(changes.get_nowait())
            yield ServerSentEvent(event="feed", data=len(burst))
            if any(c is None or c.case_id for c in burst):
                yield ServerSentEvent(event="board", data=len(burst))
            for case_id in sorted({c.case_id for c in burst if c is not None and c.case_id}):
                yield ServerSentEvent(event=f"case-{case_id}", data=1)
            await asyncio.sleep(
                max(0.0, burst_started + SIGNAL_INTERVAL_SECONDS - time.monotonic())
            )
