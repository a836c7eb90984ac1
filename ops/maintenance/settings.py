"""Maintenance settings (``MAINTENANCE_*``): where backups go, and the kill-switch drill's SLOs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MaintenanceSettings(BaseSettings):
    """Backups and the monthly kill-switch drill."""

    model_config = SettingsConfigDict(env_prefix="MAINTENANCE_", env_file=".env", extra="ignore")

    backup_dir: Path | None = Field(
        default=None, description="Where `agenthedge backup` writes when --dest is not given (default <home>/backups)"
    )
    drill_ticks: int = Field(default=3, ge=1, le=50, description="Past sessions the drill replays before the kill")
    drill_capital: float = Field(
        default=1_000_000.0, gt=0, description="Capital the drill's temporary books start with"
    )
    drill_halt_slo_seconds: float = Field(
        default=1.0, gt=0, description="The drill fails if HALTED is persisted later than this after the kill switch"
    )
    drill_cancel_slo_seconds: float = Field(
        default=5.0, gt=0, description="The drill fails if an order is still open this long after the kill switch"
    )
    drill_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long the drill waits for the halt to complete before giving up"
    )

    def backups(self, home: Path) -> Path:
        return self.backup_dir if self.backup_dir is not None else home / "backups"
