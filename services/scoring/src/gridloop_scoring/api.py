"""scoring's HTTP API: per-department counts of the stored facts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from gridloop_common.http import app_deps, problem
from gridloop_common.periods import EXPECTED_FORMATS, InvalidPeriod, Period, parse_period
from gridloop_scoring.bootstrap import ScoringDeps

Deps = Annotated[ScoringDeps, Depends(app_deps)]

router = APIRouter(prefix="/v1", tags=["counts"])


class DepartmentCounts(BaseModel):
    department: str
    dispatched: int
    accepted: int
    breaches: int
    # Echoed only when the request asked for one period.
    period: str | None = None


@router.get(
    "/departments/{code}/counts",
    summary="How many orders a department was dispatched and accepted, and its SLA breaches",
    response_model=DepartmentCounts,
    response_model_exclude_none=True,
    responses={422: {"description": "`period` is not YYYY-MM, YYYY-Qn or YYYY"}},
)
async def department_counts(
    code: str,
    deps: Deps,
    period: Annotated[
        str | None,
        Query(
            description="Only facts that occurred in this Asia/Shanghai month, quarter or year",
            examples=["2026-11", "2026-Q4", "2026"],
        ),
    ] = None,
) -> Any:
    selected: Period | None = None
    if period is not None:
        try:
            selected = parse_period(period)
        except InvalidPeriod as error:
            return problem(
                422,
                "invalid_period",
                str(error),
                parameter="period",
                expected_formats=list(EXPECTED_FORMATS.values()),
            )
    by_kind = await deps.facts.counts_by_kind(code, selected)
    return DepartmentCounts(
        department=code,
        dispatched=by_kind.get("dispatched", 0),
        accepted=by_kind.get("accepted", 0),
        breaches=by_kind.get("sla_breached", 0),
        period=period,
    )
