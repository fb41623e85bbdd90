"""scoring's settings: the shared ones with scoring's defaults, and its own."""

from __future__ import annotations

from pydantic import Field, field_validator

from gridloop_common.settings import StaffKeySettings
from gridloop_scoring.levels import LEVEL_METRICS, LEVELS

_AREA_WEIGHTS = {
    "on_time_acceptance_rate": 2.0,
    "on_time_completion_rate": 3.0,
    "resolution_rate": 3.0,
    "satisfaction_rate": 1.0,
    "handled": 1.0,
}
# The composite score's weights per level (README: the formula). Solving problems on time counts
# most; volume a little, so that a unit with one perfect case does not outrank a busy one by much.
DEFAULT_GRADE_WEIGHTS: dict[str, dict[str, float]] = {
    "grid_worker": {"reported": 1.0, "handled": 1.0},
    "handler": {
        "on_time_completion_rate": 4.0,
        "resolution_rate": 3.0,
        "satisfaction_rate": 1.0,
        "handled": 2.0,
    },
    "department": dict(_AREA_WEIGHTS),
    "township": dict(_AREA_WEIGHTS),
    "village": dict(_AREA_WEIGHTS),
    "grid": dict(_AREA_WEIGHTS),
}


class ScoringSettings(StaffKeySettings):
    service_name: str = "scoring"
    http_port: int = Field(default=8004, ge=1, le=65535)
    # JSON: {"<level>": {"<metric>": weight, ...}, ...}; levels left out keep their defaults.
    grade_weights: dict[str, dict[str, float]] = Field(default_factory=dict)
    # How long after its end a period closes and its commendations are announced: late events
    # (a message stuck in a retry queue, a department answering late) are counted first.
    close_grace_seconds: float = Field(default=86_400.0, ge=0)
    close_check_interval_seconds: float = Field(default=60.0, gt=0)
    recompute_interval_seconds: float = Field(default=0.5, gt=0)
    # A marked figure waits this long before it is recomputed, so a burst of facts about one
    # entity and month is recomputed once rather than once per fact.
    recompute_delay_seconds: float = Field(default=1.0, ge=0)
    # A village's, township's or department's marks wait for the next tick of this many seconds
    # (every replica's together), so their months are read at most once a tick while facts
    # trickle in; 0: they wait recompute_delay_seconds like the others (recompute.due_at).
    recompute_gather_seconds: float = Field(default=30.0, ge=0)
    excellent_cases: int = Field(default=10, ge=0, le=1000)
    top_performers: int = Field(default=3, ge=0, le=1000)

    @field_validator("grade_weights")
    @classmethod
    def _known_levels_and_metrics(
        cls, value: dict[str, dict[str, float]]
    ) -> dict[str, dict[str, float]]:
        for level, weights in value.items():
            if level not in LEVELS:
                raise ValueError(f"unknown level {level!r}; levels: {', '.join(LEVELS)}")
            allowed = LEVEL_METRICS[level]
            for metric, weight in weights.items():
                if metric not in allowed:
                    raise ValueError(
                        f"metric {metric!r} is not scored at level {level!r}; "
                        f"allowed: {', '.join(allowed)}"
                    )
                if weight < 0:
                    raise ValueError(f"weight of {level}.{metric} must not be negative")
            if not any(w > 0 for w in weights.values()):
                raise ValueError(f"level {level!r} needs at least one positive weight")
        return value

    def weights_for(self, level: str) -> dict[str, float]:
        return self.grade_weights.get(level) or DEFAULT_GRADE_WEIGHTS[level]
