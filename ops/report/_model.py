"""The daily report as data: what the Markdown shows and the JSON holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Performance(_Model):
    """Returns are fractions (0.0042 = 0.42%); None where there is no base to compare with."""

    nav: float
    nav_source: str = Field(description="nav_history (the session's last NAV point) or books (no point recorded)")
    day_return: float | None
    day_pnl: float | None
    mtd_return: float | None
    ytd_return: float | None
    ytd_peak_nav: float | None
    drawdown_from_peak: float | None
    initial_capital: float
    cash: float
    realised_pnl: float = Field(description="Cumulative, before commissions, closed positions included")
    realised_pnl_day: float | None = Field(description="Change since the previous report's snapshot")
    unrealised_pnl: float
    commissions: float


class PositionLine(_Model):
    symbol: str
    sector: str
    qty: float
    avg_cost: float
    last_price: float | None
    market_value: float
    weight: float | None
    unrealised_pnl: float
    realised_pnl: float


class SectorLine(_Model):
    sector: str
    gross: float
    net: float
    weight: float | None
    names: int


class Exposures(_Model):
    gross: float
    net: float
    gross_ratio: float | None
    net_ratio: float | None
    by_name: list[PositionLine]
    by_sector: list[SectorLine]


class AlertLine(_Model):
    ts: datetime
    action: str
    severity: str
    message: str
    source: str
    id: str | None = None


class TransitionLine(_Model):
    ts: datetime
    from_state: str
    to_state: str
    reason: str
    actor: str


class Breaches(_Model):
    """What the audit log says about the session: alerts, state changes, lifecycle of alerts."""

    alerts_by_action: dict[str, int]
    alerts_by_severity: dict[str, int]
    rejects_by_rule: dict[str, int]
    alerts: list[AlertLine]
    alerts_not_listed: int = 0
    transitions: list[TransitionLine]
    acknowledged: int = 0
    escalated: int = 0
    audit_lines_read: int = 0
    audit_lines_unreadable: int = 0


class IncidentLine(_Model):
    id: str
    opened_at: datetime
    source: str
    reason: str
    status: str
    closed_at: datetime | None = None
    closed_by: str | None = None


class DailyReport(_Model):
    version: int = 1
    session_date: date
    generated_at: datetime
    env: str
    timezone: str
    performance: Performance
    exposures: Exposures
    breaches: Breaches
    incidents: list[IncidentLine]
    notes: list[str] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"daily-{self.session_date.isoformat()}"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
