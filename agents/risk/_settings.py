"""Risk limits (``RISK_*``). Every size limit is a fraction of NAV, never of cash: a position worth 9% of NAV is
inside a 10% single-name limit whatever share of the cash it took to buy it.

Fractions are written as fractions (``0.05`` is 5%). Loss thresholds are positive magnitudes: ``daily_loss_pause
= 0.02`` pauses when the day's return is -2% or worse; a gain never trips a loss breaker.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StressScenario(BaseModel):
    """One stress scenario: a return shock per sector (case-insensitive) and per symbol (exact).

    A symbol's own shock wins over its sector's; a symbol of a sector the scenario does not name takes
    ``default``. Shocks are simple returns (``-0.40`` is a 40% fall); a short position gains when its shock
    is negative.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    sectors: dict[str, float] = Field(default_factory=dict)
    symbols: dict[str, float] = Field(default_factory=dict)
    default: float = Field(default=0.0, ge=-1.0, description="Shock of a sector the scenario does not name")

    @field_validator("sectors", "symbols")
    @classmethod
    def _check_shocks(cls, value: dict[str, float]) -> dict[str, float]:
        for name, shock in value.items():
            if shock < -1.0:
                raise ValueError(f"shock {shock} for {name!r} loses more than everything")
        return value

    @field_validator("sectors")
    @classmethod
    def _fold_sectors(cls, value: dict[str, float]) -> dict[str, float]:
        return {name.casefold(): shock for name, shock in value.items()}  # matched case-insensitively

    def shock(self, symbol: str, sector: str) -> float:
        """The shock this scenario applies to ``symbol`` (of ``sector``)."""
        if symbol in self.symbols:
            return self.symbols[symbol]
        return self.sectors.get(sector.casefold(), self.default)


def default_scenarios() -> dict[str, StressScenario]:
    """Historical-style scenarios, each hitting sectors differently (sector names as the data gives them,
    GICS-style: 'Technology' and 'Information Technology' both appear in vendors' data)."""
    return {
        "2008": StressScenario(
            description="Global financial crisis, peak to trough by sector",
            sectors={
                "Financials": -0.40,
                "Real Estate": -0.45,
                "Energy": -0.30,
                "Technology": -0.35,
                "Information Technology": -0.35,
                "Communication Services": -0.30,
                "Consumer Discretionary": -0.35,
                "Industrials": -0.35,
                "Materials": -0.35,
                "Health Care": -0.20,
                "Consumer Staples": -0.15,
                "Utilities": -0.20,
            },
            default=-0.35,
        ),
        "rates_up": StressScenario(
            description="+200bp parallel rate shock: long-duration equities fall, banks' margins widen",
            sectors={
                "Financials": 0.05,
                "Real Estate": -0.15,
                "Utilities": -0.12,
                "Technology": -0.15,
                "Information Technology": -0.15,
                "Communication Services": -0.10,
                "Consumer Discretionary": -0.08,
                "Consumer Staples": -0.06,
                "Health Care": -0.05,
                "Energy": -0.02,
                "Industrials": -0.06,
                "Materials": -0.05,
            },
            default=-0.08,
        ),
        "tech_crash": StressScenario(
            description="2000-style technology crash",
            sectors={
                "Technology": -0.45,
                "Information Technology": -0.45,
                "Communication Services": -0.30,
                "Consumer Discretionary": -0.15,
                "Financials": -0.10,
                "Industrials": -0.08,
                "Health Care": -0.05,
                "Energy": 0.0,
                "Consumer Staples": 0.0,
                "Utilities": 0.02,
            },
            default=-0.10,
        ),
    }


class RiskSettings(BaseSettings):
    """The risk agent's limits. Defaults are the production defaults of issue 3."""

    model_config = SettingsConfigDict(env_prefix="RISK_", env_file=".env", extra="ignore")

    # -- per order ---------------------------------------------------------------------------------------------
    max_order_notional_nav: float = Field(default=0.05, gt=0, description="Largest order, fraction of NAV")
    max_order_shares: float = Field(default=100_000, gt=0, description="Largest order, shares")
    max_adv_fraction: float = Field(
        default=0.20, gt=0, le=1, description="Largest order as a fraction of the average daily volume"
    )
    adv_days: int = Field(default=20, ge=1, description="Sessions in the average daily volume")
    price_collar: float = Field(
        default=0.05, gt=0, description="Largest gap between an intent's decision price and the last price"
    )
    lot_size: float = Field(default=1.0, gt=0, description="Cut quantities are rounded down to this lot")
    # -- throttle ----------------------------------------------------------------------------------------------
    max_orders_per_tick: int = Field(default=50, ge=1, description="Orders approved in one tick at most")
    max_orders_per_window: int = Field(default=200, ge=1, description="Orders approved in the rolling window")
    throttle_window_seconds: float = Field(default=3600.0, gt=0, description="Rolling window of the throttle")
    # -- portfolio (post-trade) --------------------------------------------------------------------------------
    max_single_name_nav: float = Field(default=0.10, gt=0, description="|position| per symbol, fraction of NAV")
    max_sector_nav: float = Field(default=0.25, gt=0, description="Gross exposure per sector, fraction of NAV")
    unknown_sector: Literal["pooled", "per_symbol"] = Field(
        default="pooled",
        description="Symbols without a sector: one pooled 'unknown' sector (conservative) or each its own",
    )
    sector_map: dict[str, str] = Field(
        default_factory=dict, description="symbol -> sector, overriding the data's classification (JSON)"
    )
    max_gross_leverage: float = Field(default=1.2, gt=0, description="Gross exposure / NAV")
    var_confidence: float = Field(default=0.95, gt=0.5, lt=1, description="VaR confidence level")
    max_var_nav: float = Field(default=0.04, gt=0, description="1-day VaR of the post-trade book, fraction of NAV")
    var_lookback: int = Field(default=250, ge=20, description="Sessions of returns in the historical VaR")
    var_min_history: int = Field(
        default=100, ge=20, description="Fewer return rows than this: parametric VaR from the sample covariance"
    )
    var_min_cov_rows: int = Field(
        default=20, ge=2, description="Fewer rows than this: parametric VaR on var_default_vol, correlation 1"
    )
    var_default_vol: float = Field(default=0.03, gt=0, description="Daily volatility assumed without history")
    stress_scenarios: dict[str, StressScenario] = Field(
        default_factory=default_scenarios, description="name -> per-sector/per-symbol shocks (JSON)"
    )
    stress_max_loss_nav: float = Field(
        default=0.30, gt=0, description="A scenario losing more than this fraction of NAV is a stress breach"
    )
    stress_blocks_orders: bool = Field(
        default=False, description="Also cut orders that deepen a stress breach (default: alert only)"
    )
    # -- breakers (on losses only) -----------------------------------------------------------------------------
    stop_loss: float = Field(default=0.08, gt=0, lt=1, description="Loss from average cost that stops a position")
    daily_loss_pause: float = Field(
        default=0.02, gt=0, lt=1, description="Loss vs the previous session's closing NAV that pauses the runtime"
    )
    daily_loss_kill: float = Field(
        default=0.05, gt=0, lt=1, description="Loss vs the previous session's closing NAV that trips the kill switch"
    )
    drawdown_limit: float = Field(
        default=0.10, gt=0, lt=1, description="Drawdown from the window's peak NAV that moves to REDUCING"
    )
    drawdown_sessions: int = Field(default=30, ge=2, description="Sessions in the drawdown window")
    drawdown_gross_cut: float = Field(
        default=0.5, gt=0, le=1, description="While in a drawdown episode gross is capped at this x max leverage"
    )
    soft_breach_ratio: float = Field(
        default=0.8, gt=0, lt=1, description="Utilisation of a limit that raises an alert needing acknowledgement"
    )

    @model_validator(mode="after")
    def _check(self) -> RiskSettings:
        if self.daily_loss_pause >= self.daily_loss_kill:
            raise ValueError("RISK_DAILY_LOSS_PAUSE must be smaller than RISK_DAILY_LOSS_KILL")
        if self.var_min_cov_rows > self.var_min_history:
            raise ValueError("RISK_VAR_MIN_COV_ROWS must not exceed RISK_VAR_MIN_HISTORY")
        return self

    def sector_of(self, symbol: str, data_sector: str) -> str:
        """The sector bucket a symbol's exposure counts in."""
        sector = self.sector_map.get(symbol, data_sector)
        if sector in ("", "unknown") and self.unknown_sector == "per_symbol":
            return f"unknown:{symbol}"
        return sector or "unknown"

    @property
    def gross_cap_in_drawdown(self) -> float:
        return self.max_gross_leverage * self.drawdown_gross_cut

    def limits_summary(self) -> dict[str, Any]:
        """The limits as ``runtime health`` shows them (JSON-ready; every size limit against NAV)."""
        return {
            "basis": "NAV",
            "order": {
                "max_notional_nav": self.max_order_notional_nav,
                "max_shares": self.max_order_shares,
                "max_adv_fraction": self.max_adv_fraction,
                "adv_days": self.adv_days,
                "price_collar": self.price_collar,
            },
            "throttle": {
                "max_per_tick": self.max_orders_per_tick,
                "max_per_window": self.max_orders_per_window,
                "window_seconds": self.throttle_window_seconds,
            },
            "portfolio": {
                "max_single_name_nav": self.max_single_name_nav,
                "max_sector_nav": self.max_sector_nav,
                "unknown_sector": self.unknown_sector,
                "max_gross_leverage": self.max_gross_leverage,
                "var": {
                    "confidence": self.var_confidence,
                    "horizon_days": 1,
                    "max_nav": self.max_var_nav,
                    "lookback": self.var_lookback,
                    "method": f"historical (>= {self.var_min_history} rows), else parametric",
                },
                "stress": {
                    "max_loss_nav": self.stress_max_loss_nav,
                    "blocks_orders": self.stress_blocks_orders,
                    "scenarios": sorted(self.stress_scenarios),
                },
            },
            "breakers": {
                "stop_loss": -self.stop_loss,
                "daily_loss_pause": -self.daily_loss_pause,
                "daily_loss_kill": -self.daily_loss_kill,
                "daily_basis": "NAV at the previous session's close",
                "drawdown": -self.drawdown_limit,
                "drawdown_sessions": self.drawdown_sessions,
                "drawdown_gross_cap": self.gross_cap_in_drawdown,
            },
            "soft_breach_ratio": self.soft_breach_ratio,
        }
