"""Query parameters of the scoring API, checked with answers that name what would be allowed."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from gridloop_common.http import problem
from gridloop_common.periods import EXPECTED_FORMATS, InvalidPeriod, Period, parse_period
from gridloop_scoring.levels import LEVEL_METRICS, LEVELS, Level


class BadParameter(Exception):
    """Answered 422: {code, detail, parameter, allowed_values | expected_formats}."""

    def __init__(self, code: str, detail: str, parameter: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.parameter, self.extra = code, detail, parameter, extra


async def bad_parameter(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BadParameter)
    return problem(422, error.code, error.detail, parameter=error.parameter, **error.extra)


def period_param(text: str, *, quarter_only: bool = False) -> Period:
    try:
        period = parse_period(text)
    except InvalidPeriod as error:
        raise BadParameter(
            "invalid_period",
            str(error),
            "period",
            expected_formats=list(EXPECTED_FORMATS.values()),
        ) from None
    if quarter_only and period.granularity != "quarter":
        raise BadParameter(
            "invalid_period",
            f"grades are given per quarter; {text!r} is a {period.granularity}",
            "period",
            expected_formats=[EXPECTED_FORMATS["quarter"]],
        )
    return period


def level_param(text: str) -> Level:
    if text not in LEVELS:
        raise BadParameter(
            "invalid_level", f"unknown level {text!r}", "level", allowed_values=list(LEVELS)
        )
    return text


def metric_param(text: str, level: Level) -> str:
    allowed = LEVEL_METRICS[level]
    if text not in allowed:
        raise BadParameter(
            "invalid_metric",
            f"metric {text!r} is not ranked at level {level!r}",
            "metric",
            allowed_values=list(allowed),
        )
    return text
