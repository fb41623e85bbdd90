"""Rankings (按月、按季、按年排名): scoring's figures of one level on one metric, as a table, bars
and a CSV download. scoring computes them; the console asks its API and draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from gridloop_common.periods import GRANULARITIES, period_key
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.upstream import UpstreamError
from gridloop_console.web import Deps, Visitor, render

router = APIRouter(tags=["console"])

# The levels and metrics offered on the page; scoring's API is the judge of what it knows.
LEVELS = ("department", "township", "village", "grid", "grid_worker", "handler")
METRICS = (
    "handled",
    "on_time_acceptance_rate",
    "on_time_completion_rate",
    "satisfaction_rate",
    "reported",
    "dispatched",
    "breaches",
    "reopens",
)
BARS = 15  # the chart shows the leaders; the table shows everyone


@dataclass(frozen=True)
class RankingChoice:
    period: str
    level: str
    metric: str


def ranking_choice(
    request: Request,
    period: Annotated[str | None, Query()] = None,
    level: Annotated[str | None, Query()] = None,
    metric: Annotated[str | None, Query()] = None,
) -> RankingChoice:
    """The ranking asked for; the current month, departments and cases handled by default."""
    deps: ConsoleDeps = request.app.state.deps
    return RankingChoice(
        period=period or period_key(deps.clock.now(), "month"),
        level=level if level in LEVELS else "department",
        metric=metric if metric in METRICS else "handled",
    )


Choice = Annotated[RankingChoice, Depends(ranking_choice)]


def bars(entries: list[dict[str, Any]], width: float = 480) -> list[dict[str, Any]]:
    """The leaders' bars: each entry's value scaled to `width` against the largest (the chart
    is 240 for the names, `width` for the bars and 80 for the figure after the longest)."""
    ranked = [e for e in entries if e.get("value") is not None][:BARS]
    top = max((float(e["value"]) for e in ranked), default=0.0) or 1.0
    return [{**e, "width": round(float(e["value"]) / top * width, 1)} for e in ranked]


@router.get("/rankings", response_class=HTMLResponse, summary="Rankings by month, quarter, year")
async def rankings(request: Request, deps: Deps, role: Visitor, choice: Choice) -> HTMLResponse:
    now = deps.clock.now()
    ranking = grades = None
    try:
        ranking = await deps.upstream.ranking(role, choice.period, choice.level, choice.metric)
        # A quarter's 1:2:7 grades (优秀 : 良好 : 合格) stand beside its ranking.
        if "-Q" in choice.period:
            grades = await deps.upstream.grades(role, choice.period, choice.level)
        error = None
    except UpstreamError as refused:
        error = refused
    return render(
        request,
        deps,
        "rankings.html",
        role=role,
        choice=choice,
        ranking=ranking,
        grades=grades,
        bars=bars(ranking["entries"]) if ranking else [],
        error=error,
        levels=LEVELS,
        metrics=METRICS,
        periods=[period_key(now, g) for g in GRANULARITIES],
        status_code=200 if error is None else error.answer_status,
    )


@router.get("/rankings.csv", summary="The ranking as a spreadsheet (CSV)")
async def rankings_csv(deps: Deps, role: Visitor, choice: Choice) -> Response:
    csv = await deps.upstream.ranking_csv(role, choice.period, choice.level, choice.metric)
    return Response(
        csv.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv.filename}"'},
    )
