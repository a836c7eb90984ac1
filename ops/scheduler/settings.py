"""The scheduler's settings (``SCHEDULER_*``).

Why America/New_York and not the Pacific time the original runbook's tooling section mentions: the runbook's
own schedule table is in ET and is the NYSE day (09:30 is the NYSE open). Here every trading-day job is
anchored to the exchange's own open or close from ``exchange_calendars``, so the zone cannot move a trading
job; it sets how times are shown and when the wall-clock maintenance jobs (nightly archive, weekly rotation)
run. Running ET keeps the printed schedule identical to the runbook's table.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime import topics


class SchedulerSettings(BaseSettings):
    """The runbook's day: calendar, timezone, misfire grace, health-check retries."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", env_file=".env", extra="ignore")

    timezone: str = Field(
        default="America/New_York",
        description="IANA zone for showing times and for wall-clock maintenance jobs (trading jobs follow the "
        "exchange's open/close whatever the zone)",
    )
    calendar: str = Field(default="XNYS", description="exchange_calendars code of the exchange (XNYS: NYSE)")
    misfire_grace_seconds: int = Field(
        default=300,
        ge=1,
        description="A run later than this many seconds is not run but counted as missed and logged",
    )
    health_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a failing health check before DEGRADED (runbook SOP 1)"
    )
    health_backoff_seconds: float = Field(
        default=5.0, ge=0, description="First wait before a health-check retry; doubles at each retry"
    )
    auto_recover: bool = Field(
        default=True,
        description="Let the next session's passing 08:00 health check return a DEGRADED runtime (degraded by "
        "the health SOP on an earlier day) to RUNNING; HALTED never resumes without a sign-off",
    )
    horizon_days: int = Field(default=4, ge=1, le=30, description="Calendar days planned ahead of today")
    actor: str = Field(
        default="scheduler",
        description="Name the scheduler acts under (audit actor; operator segment on the bus when remote)",
    )
    rotate_weekday: int = Field(
        default=5, ge=0, le=6, description="Weekday of the weekly audit-log rotation (0 Monday .. 6 Sunday)"
    )
    rotate_time: str = Field(default="10:00", description="Local time of the weekly rotation (maintenance window)")
    archive_time: str = Field(default="23:45", description="Local time of the nightly audit-log archive")
    archive_dir: Path | None = Field(
        default=None,
        description="Where audit-log archives go (nightly archive, weekly rotation); default <home>/audit/archive. "
        "Point it at long-term storage",
    )
    stop_timeout: float = Field(
        default=120.0, gt=0, description="Seconds a stopping scheduler waits for the job in progress to finish"
    )
    request_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for a daemon's answer when the target is remote"
    )

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @field_validator("rotate_time", "archive_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @field_validator("actor")
    @classmethod
    def _check_actor(cls, value: str) -> str:
        if not topics.valid_segment(value):
            raise ValueError("may only use letters, digits, '.', '-' and '_' (it is a topic segment)")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def archive_folder(self, home: Path) -> Path:
        return self.archive_dir if self.archive_dir is not None else home / "audit" / "archive"

    @staticmethod
    def parse_time(value: str) -> tuple[int, int]:
        hours, _, minutes = value.partition(":")
        return int(hours), int(minutes)
