"""scoring's HTTP API: rankings (JSON or CSV), one entity's figures and trend, quarterly grades,
closed periods, and whether the figures are current."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gridloop_common.http import app_deps, problem
from gridloop_common.periods import trailing_periods
from gridloop_common.registry import load_registry
from gridloop_scoring.bootstrap import ScoringDeps
from gridloop_scoring.composite import composite_scores
from gridloop_scoring.grading import GRADES, RATIO, Candidate, assign_grades, grade_counts
from gridloop_scoring.levels import LEVEL_METRICS, METRICS, Level, entity_key
from gridloop_scoring.params import level_param, metric_param, period_param
from gridloop_scoring.ranking import rank
from gridloop_scoring.repository import figure_id
from gridloop_scoring.view import FigureView, empty_view

Deps = Annotated[ScoringDeps, Depends(app_deps)]
PeriodQuery = Annotated[
    str, Query(description="Asia/Shanghai month, quarter or year", examples=["2026-11", "2026-Q4"])
]
LevelQuery = Annotated[str, Query(description="grid_worker, handler, department, township, ...")]

router = APIRouter(prefix="/v1", tags=["scoring"])
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "unknown period, level or metric; the body names what is allowed"}
}
TREND_PERIODS = 12
CSV_COLUMNS = ("rank", "entity_id", "value", "numerator", "denominator", "orders")


@router.get(
    "/rankings",
    summary="Entities of one level ranked on one metric in one period (ties share a rank)",
    description="JSON by default; `Accept: text/csv` for a spreadsheet of the same entries.",
    responses=INVALID,
)
async def rankings(
    request: Request, deps: Deps, period: PeriodQuery, level: LevelQuery, metric: str
) -> Any:
    selected, chosen = period_param(period), level_param(level)
    metric = metric_param(metric, chosen)
    stored = await deps.figures.of_level(chosen, selected.key, [metric])
    views = [FigureView.of(d) for d in stored]
    ranked = rank(
        views,
        value=lambda view: view.value(metric),
        key=lambda view: view.entity_id,
        descending=METRICS[metric].higher_is_better,
    )
    entries = [
        {"rank": r.rank, "entity_id": r.item.entity_id, **r.item.describe(metric)} for r in ranked
    ]
    if "text/csv" in request.headers.get("accept", ""):
        return _csv(entries, f"ranking-{chosen}-{metric}-{selected.key}.csv")
    return {
        "period": selected.key,
        "level": chosen,
        "metric": metric,
        "higher_is_better": METRICS[metric].higher_is_better,
        "definition": METRICS[metric].description,
        "entries": entries,
    }


def _csv(entries: list[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(entries)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/entities/{level}/{entity_id}",
    summary="One entity's figures in a period, and their trend over the last 12 such periods",
    responses={**INVALID, 404: {"description": "no such entity"}},
)
async def entity(level: str, entity_id: str, deps: Deps, period: PeriodQuery) -> Any:
    selected, chosen = period_param(period), level_param(level)
    key = entity_key(chosen, entity_id)
    window = trailing_periods(selected, TREND_PERIODS)
    stored = await deps.figures.get([figure_id(key, p.key) for p in window])
    if not stored and not _in_registry(chosen, entity_id):
        return problem(404, "unknown_entity", f"no figures for {key} up to {selected.key}")
    views = [
        FigureView.of(stored[i])
        if (i := figure_id(key, p.key)) in stored
        else empty_view(entity_id, p.key)
        for p in window
    ]
    metrics = LEVEL_METRICS[chosen]
    return {
        "level": chosen,
        "entity_id": entity_id,
        "period": selected.key,
        "metrics": {m: views[-1].describe(m) for m in metrics},
        "trend": [
            {"period": view.period, "metrics": {m: view.describe(m) for m in metrics}}
            for view in views
        ],
    }


def _in_registry(level: Level, entity_id: str) -> bool:
    registry = load_registry()
    lookup = {"grid": registry.grid, "village": registry.village, "township": registry.township}
    return level in lookup and lookup[level](entity_id) is not None


@router.get(
    "/grades",
    summary="Quarterly grades of one level: excellent : good : pass = 1 : 2 : 7",
    description=(
        "Every entity of the level with figures in the quarter, ordered by composite score "
        "(README: formula and weights), then handled cases, then id; seats per grade by largest "
        "remainder, equal remainders to the lower grade."
    ),
    responses=INVALID,
)
async def grades(deps: Deps, period: PeriodQuery, level: LevelQuery) -> Any:
    selected, chosen = period_param(period, quarter_only=True), level_param(level)
    weights = deps.settings.weights_for(chosen)
    stored = await deps.figures.of_level(chosen, selected.key, [*weights, "handled"])
    views = [FigureView.of(d) for d in stored]
    scored = {c.entity_id: c for c in composite_scores(views, weights)}
    handled = {view.entity_id: int(view.value("handled") or 0) for view in views}
    graded = assign_grades([Candidate(e, scored[e].score, handled[e]) for e in sorted(scored)])
    return {
        "period": selected.key,
        "level": chosen,
        "ratio": dict(zip(GRADES, RATIO, strict=True)),
        "seats": dict(zip(GRADES, grade_counts(len(graded)), strict=True)),
        "weights": weights,
        "formula": "score = 100 * sum(weight * normalised value) / sum(weight) (README)",
        "entries": [
            {
                "position": g.position,
                "entity_id": g.entity_id,
                "grade": g.grade,
                "score": round(float(g.score), 4),
                "handled": g.handled,
                "separated_from_next_by": g.separated_from_next_by,
                "parts": [
                    {
                        "metric": part.metric,
                        "value": part.value,
                        "normalised": round(float(part.normalised), 4),
                        "weight": float(part.weight),
                        "points": round(float(part.points), 4),
                    }
                    for part in scored[g.entity_id].parts
                ],
            }
            for g in graded
        ],
    }


@router.get(
    "/periods/{period}",
    summary="Whether a period has closed, and the commendations announced when it did",
    responses={**INVALID, 404: {"description": "no figures in this period yet"}},
)
async def closed_period(period: str, deps: Deps) -> Any:
    selected = period_param(period)
    record = await deps.periods.get(selected.key)
    if record is None:
        return problem(404, "unknown_period", f"no figures in {selected.key} yet")
    answer: dict[str, Any] = {
        "period": selected.key,
        "granularity": record.period.granularity,
        "closes_at": record.closes_at.isoformat(),
        "closed": record.closed,
    }
    if record.closed:
        answer["closed_at"] = record.closed_at.isoformat() if record.closed_at else None
        answer["commendations"] = record.commendations
    return answer


@router.get("/status", summary="How many (entity, period) figures are waiting to be recomputed")
async def status(deps: Deps) -> JSONResponse:
    pending = await deps.recomputer.backlog()
    return JSONResponse({"pending_recomputes": pending, "current": pending == 0})
