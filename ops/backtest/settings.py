"""Backtest settings (``BACKTEST_*``: how metrics are computed) and the mandate (``MANDATE_*``: what a run must
show before its tracker weights may go live)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DataChecks = Literal["on", "off"]


class BacktestSettings(BaseSettings):
    """How a backtest is run and measured."""

    model_config = SettingsConfigDict(env_prefix="BACKTEST_", env_file=".env", extra="ignore")

    risk_free_rate: float = Field(
        default=0.0, ge=-0.05, le=0.5, description="Annual risk-free rate for Sharpe and Sortino (0: excess = raw)"
    )
    periods_per_year: int = Field(
        default=252, ge=1, le=366, description="Sessions per year for annualising volatility, Sharpe and Sortino"
    )
    var_confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="Confidence of the fallback historical VaR (no risk agent records)"
    )
    var_window: int = Field(
        default=250, ge=20, description="Sessions of NAV returns in the fallback rolling historical VaR"
    )
    env: str = Field(default="backtest", description="Environment name of the backtest's own runtime (a topic segment)")
    data_checks: DataChecks = Field(
        default="on",
        description="'on': the data layer's quality checks and quarantine as in live; 'off': bars as the source "
        "gives them (a reviewed data set whose genuine outliers would otherwise quarantine a whole symbol)",
    )


class MandateSettings(BaseSettings):
    """What a backtest must show to be promoted (runbook "Backtesting & Promotion", step 3)."""

    model_config = SettingsConfigDict(env_prefix="MANDATE_", env_file=".env", extra="ignore")

    min_trades: int = Field(default=10, ge=0, description="Fewest round trips (flat -> position -> flat, or open)")
    min_sessions: int = Field(default=20, ge=1, description="Fewest sessions the run must cover")
    max_drawdown: float = Field(
        default=0.25, gt=0, le=1, description="Largest peak-to-trough NAV drawdown allowed (fraction, 0.25 = 25%)"
    )
    max_var_usage: float = Field(
        default=1.0, gt=0, description="Largest 1-day VaR / the RISK_MAX_VAR_NAV limit seen in the run (1 = at limit)"
    )
    max_hard_breaches: int = Field(
        default=0,
        ge=0,
        description="Hard-limit breaches tolerated (limits at or over 100%, loss breakers, stress breaches); "
        "a kill switch or a run not ending RUNNING always fails",
    )
    min_sharpe: float | None = Field(default=None, description="If set, the lowest annualised Sharpe accepted")
