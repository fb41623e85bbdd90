"""sla-monitor's settings: the shared ones, its defaults and the clock settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from gridloop_common.settings import StaffKeySettings
from gridloop_sla_monitor.calendars import CalendarError, Calendars, parse_calendars


class SlaMonitorSettings(StaffKeySettings):
    """Its reads (clocks, board, rates) are the staff's: OPERATOR_API_KEY or VIEWER_API_KEY."""

    service_name: str = "sla-monitor"
    http_port: int = Field(default=8003, ge=1, le=65535)
    # The longest pause between two looks at a partition. The scan sleeps until the next mark it
    # knows of, so this bounds only how late a clock armed by another replica is first seen.
    sla_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    # Due clocks fired per partition per scan; a full batch makes the next scan start at once.
    sla_scan_batch: int = Field(default=200, ge=1, le=10_000)
    # Clocks fired at once (each is one conditional update plus its relay).
    sla_fire_concurrency: int = Field(default=16, ge=1, le=256)
    # docs/domain.md: a department must accept within 8 hours. Dispatch stamps `accept_by` with the
    # same setting; sla-monitor counts the stamped window and falls back to this one only when a
    # stamp is unusable (not after the dispatch).
    sla_accept_window_seconds: float = Field(default=28_800, gt=0)
    # Fractions of the window at which a yellow warning is announced, e.g. "0.5,0.75".
    sla_warning_thresholds: Annotated[tuple[float, ...], NoDecode] = (0.75,)
    # Working-hours calendars by department code (JSON; see the README), or a file holding it.
    sla_calendars: str = ""
    sla_calendars_file: Path | None = None
    # Timers are spread over this many partitions, leased to replicas. Fixed at first start.
    sla_partitions: int = Field(default=16, ge=1, le=1024)
    # A replica that stops renewing loses its partitions this long after its last renewal.
    sla_lease_seconds: float = Field(default=10.0, ge=0.3, le=600)
    # Empty: host name, process id and a random suffix.
    sla_replica_id: str = ""
    # How long a case event may take from dispatch's write to this inbox. A mark is judged this
    # long after it falls due, and only while the consumer has been connected this long with
    # nothing waiting in its inbox: an acceptance made in time but still on its way must not be
    # announced as a breach (see the README, "Judging a deadline").
    sla_evidence_grace_seconds: float = Field(default=5.0, ge=0, le=3600)
    # Dispatch says every second how far its case events are published; no mark is judged
    # past that. A watermark older than this is ignored (dispatch silent: judge without it).
    sla_watermark_patience_seconds: float = Field(default=600.0, gt=0)

    @field_validator("sla_warning_thresholds", mode="before")
    @classmethod
    def _split_thresholds(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("sla_warning_thresholds")
    @classmethod
    def _thresholds_inside_the_window(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < threshold < 1 for threshold in value):
            raise ValueError("each warning threshold must lie strictly between 0 and 1")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _calendars_parse(self) -> SlaMonitorSettings:
        if self.sla_calendars.strip() and self.sla_calendars_file is not None:
            raise ValueError("set SLA_CALENDARS or SLA_CALENDARS_FILE, not both")
        try:
            self.calendars()
        except (CalendarError, OSError) as error:
            raise ValueError(str(error)) from None
        return self

    def calendars(self) -> Calendars:
        if self.sla_calendars_file is not None:
            return parse_calendars(self.sla_calendars_file.read_text(encoding="utf-8"))
        return parse_calendars(self.sla_calendars)
