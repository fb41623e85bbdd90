"""Grade weights come from configuration and are checked at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridloop_scoring.settings import DEFAULT_GRADE_WEIGHTS, ScoringSettings


def test_weights_from_the_environment_replace_one_levels_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRADE_WEIGHTS", '{"grid": {"resolution_rate": 1, "breaches": 2}}')
    settings = ScoringSettings()
    assert settings.weights_for("grid") == {"resolution_rate": 1.0, "breaches": 2.0}
    assert settings.weights_for("department") == DEFAULT_GRADE_WEIGHTS["department"]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"street": {"handled": 1}}, "unknown level 'street'"),
        ({"department": {"reported": 1}}, "not scored at level 'department'"),
        ({"grid": {"handled": -1}}, "must not be negative"),
        ({"grid": {"handled": 0}}, "at least one positive weight"),
    ],
)
def test_unknown_levels_metrics_or_negative_weights_are_refused(
    weights: dict[str, dict[str, float]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ScoringSettings(grade_weights=weights)


def test_every_default_weight_is_a_metric_of_its_level() -> None:
    for level in DEFAULT_GRADE_WEIGHTS:
        ScoringSettings(grade_weights={level: DEFAULT_GRADE_WEIGHTS[level]})
