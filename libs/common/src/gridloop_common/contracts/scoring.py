"""What scoring publishes when a ranking period closes (`scoring.period_closed.<granularity>`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from gridloop_common.contracts.base import Event, UtcDatetime

Granularity = Literal["month", "quarter", "year"]


class ExcellentCase(BaseModel):
    """A case the period's grading rated excellent; optional fields only ever get added."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    case_id: str
    category_code: str
    department: str
    # Completion time as a share of the time its category allowed (0.25 = a quarter of it).
    share_of_limit: float | None = None


class TopPerformer(BaseModel):
    """One of the best of a level: `level` names what `entity_id` is (department, township,
    grid, officer...), `metric` what `value` counts (e.g. cases_completed)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    level: str
    entity_id: str
    metric: str
    value: float
    # Competition rank within the level (ties share it).
    rank: int | None = None


class ScoringPeriodClosed(Event):
    """A month, quarter or year closed: its rankings and grades are final.

    `period` is the period key in the Asia/Shanghai calendar: `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    """

    TYPE: ClassVar[str] = "org.gridloop.scoring.period_closed.v1"
    BINDING: ClassVar[str] = "scoring.period_closed.#"

    period: str
    granularity: Granularity
    closed_at: UtcDatetime
    excellent_cases: tuple[ExcellentCase, ...]
    top_performers: tuple[TopPerformer, ...]

    def routing_key(self) -> str:
        return f"scoring.period_closed.{self.granularity}"

    def subject(self) -> str | None:
        return self.period
