"""sla-monitor's settings: thresholds and calendars are checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gridloop_sla_monitor.settings import SlaMonitorSettings


def test_defaults_are_one_warning_at_three_quarters_and_wall_clock_time() -> None:
    settings = SlaMonitorSettings()
    assert settings.sla_warning_thresholds == (0.75,)
    assert settings.calendars().for_department("city-mgmt").name == "wall-clock"
    assert settings.sla_accept_window_seconds == 28_800


def test_several_thresholds_come_from_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLA_WARNING_THRESHOLDS", "0.75, 0.5")
    assert SlaMonitorSettings().sla_warning_thresholds == (0.5, 0.75)


@pytest.mark.parametrize("value", ["0", "1", "0.5,1.2", "-0.1"])
def test_thresholds_outside_the_window_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="strictly between 0 and 1"):
        SlaMonitorSettings(sla_warning_thresholds=value)  # type: ignore[arg-type]


def test_calendars_come_from_json_or_a_file(tmp_path: Path) -> None:
    text = '{"city-mgmt": {"hours": ["08:30-17:30"], "days": ["mon", "tue"]}}'
    assert SlaMonitorSettings(sla_calendars=text).calendars().for_department("city-mgmt").name == (
        "working-hours:city-mgmt"
    )
    path = tmp_path / "calendars.json"
    path.write_text(text, encoding="utf-8")
    from_file = SlaMonitorSettings(sla_calendars_file=path).calendars()
    assert from_file.for_department("city-mgmt").name == "working-hours:city-mgmt"


def test_a_bad_calendar_stops_the_service_at_start_up() -> None:
    with pytest.raises(ValidationError, match="open before it closes"):
        SlaMonitorSettings(sla_calendars='{"water": {"hours": ["18:00-09:00"]}}')


def test_calendars_from_both_places_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendars.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ValidationError, match="not both"):
        SlaMonitorSettings(sla_calendars="{}", sla_calendars_file=path)
