"""Settings of the Director (``DIRECTOR_*``) and of the Strategy Council and its tracker (``COUNCIL_*``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runtime.settings import split_csv

DEFAULT_PLUGINS = ["technical", "fundamental", "sentiment", "macro"]


class DirectorSettings(BaseSettings):
    """How the Director sets the day's universe and risk budget."""

    model_config = SettingsConfigDict(env_prefix="DIRECTOR_", env_file=".env", extra="ignore")

    universe: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Symbols to trade (comma-separated); empty = every symbol in the data"
    )
    gross_target: float = Field(default=1.0, ge=0, le=2, description="Gross exposure target, fraction of NAV")
    max_names: int = Field(default=20, ge=1, description="Most names held at once")
    drawdown_lookback: int = Field(default=30, ge=2, description="Sessions of NAV history for the drawdown")
    drawdown_soft: float = Field(
        default=0.05, gt=0, lt=1, description="Drawdown where the gross target starts being cut (0.05 = -5%)"
    )
    drawdown_hard: float = Field(
        default=0.10, gt=0, lt=1, description="Drawdown where the cut reaches its floor (0.10 = -10%)"
    )
    min_gross_factor: float = Field(
        default=0.5, ge=0, le=1, description="The deepest cut: gross target times this at the hard drawdown"
    )
    vol_target: float = Field(
        default=0.20, gt=0, description="Annualised market volatility above which the gross target is scaled down"
    )
    vol_lookback: int = Field(default=20, ge=2, description="Sessions of market returns for realised volatility")
    trend_lookback: int = Field(default=60, ge=2, description="Sessions over which the market trend is measured")

    _split = field_validator("universe", mode="before")(split_csv)

    @model_validator(mode="after")
    def _check(self) -> DirectorSettings:
        if self.drawdown_soft >= self.drawdown_hard:
            raise ValueError("DIRECTOR_DRAWDOWN_SOFT must be smaller than DIRECTOR_DRAWDOWN_HARD")
        return self


class CouncilSettings(BaseSettings):
    """The Strategy Council: who sits on it, when it has a quorum, how it sizes, and its tracker."""

    model_config = SettingsConfigDict(env_prefix="COUNCIL_", env_file=".env", extra="ignore")

    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_PLUGINS),
        description="Council plug-ins, comma-separated: built-in names, entry-point names or module:Class paths",
    )
    quorum: int = Field(default=2, ge=1, description="Plug-ins that must have a view on a symbol before it trades")
    quorum_of_active: bool = Field(
        default=True,
        description=(
            "Cap the quorum at the number of plug-ins that proposed anything this tick (data for only one signal, "
            "e.g. prices alone, still trades)"
        ),
    )
    weight_threshold: float = Field(
        default=0.0, ge=0, le=1, description="Share of the active plug-ins' weight that must have a view (0 = off)"
    )
    min_confidence: float = Field(default=0.05, ge=0, le=1, description="Below this confidence a proposal is no view")
    entry_threshold: float = Field(
        default=0.10, ge=0, le=1, description="|consensus| needed to open a position (hysteresis: see exit)"
    )
    exit_threshold: float = Field(
        default=0.0, ge=0, le=1, description="A held position is closed when its consensus falls to this or below"
    )
    risk_per_name: float = Field(
        default=0.004, gt=0, description="Daily volatility budget per name at full consensus, fraction of NAV"
    )
    max_weight: float = Field(default=0.08, gt=0, le=1, description="Largest weight of one name, fraction of NAV")
    vol_lookback: int = Field(default=20, ge=2, description="Sessions of returns for each name's realised volatility")
    vol_floor: float = Field(default=0.005, gt=0, description="Floor of a name's daily volatility in sizing")
    rebalance_band: float = Field(
        default=0.01, ge=0, description="Weight change below which a held position is left alone (0.01 = 1% of NAV)"
    )
    min_notional: float = Field(default=500.0, ge=0, description="Orders smaller than this (currency) are not sent")
    lot_size: int = Field(default=1, ge=1, description="Shares per round lot; order quantities are whole lots")
    allow_short: bool = Field(default=False, description="Whether a negative consensus may open a short position")
    pass_through: bool = Field(
        default=False,
        description="Reference mode: each symbol's signal maps to a fixed lot (long 'lot' when > 0, flat otherwise)",
    )
    lot: int = Field(default=100, ge=1, description="Shares held per long position in pass-through mode")

    weight_floor: float = Field(default=0.05, ge=0, lt=1, description="Smallest weight a plug-in keeps")
    weight_smoothing: float = Field(
        default=0.1, gt=0, le=1, description="Share of the new weights taken each tick (exponential smoothing)"
    )
    hit_half_life: float = Field(default=60.0, gt=0, description="Half-life of hit-rate evidence, sessions")
    pnl_half_life: float = Field(default=60.0, gt=0, description="Half-life of attributed P&L, sessions")
    pnl_scale: float = Field(
        default=0.002, gt=0, description="Attributed P&L (fraction of NAV) that moves a weight by tanh(1)"
    )
    hit_prior: float = Field(default=20.0, ge=0, description="Pseudo-observations at 50% that shrink hit rates")
    risk_penalty: float = Field(default=0.10, ge=0, le=1, description="Penalty per intent rejected by risk")
    compliance_penalty: float = Field(default=0.25, ge=0, le=1, description="Penalty per intent vetoed by compliance")
    penalty_decay: float = Field(default=0.9, ge=0, le=1, description="Penalties are multiplied by this each tick")
    max_penalty: float = Field(default=0.9, ge=0, lt=1, description="Largest penalty (share of weight removed)")
    audit_trade_packs: bool = Field(
        default=True,
        description="Write each trade pack with intents to the audit log (an fsync'd line: turn off in backtests)",
    )
    persist_every: int = Field(
        default=1,
        ge=0,
        description="Save the tracker every N ticks (and on stop); 1 = every tick; 0 = only on stop and when the "
        "runtime flushes (a backtest: its throw-away ledger is recomputed, never restarted from)",
    )

    _split = field_validator("plugins", mode="before")(split_csv)

    @model_validator(mode="after")
    def _check(self) -> CouncilSettings:
        if self.exit_threshold > self.entry_threshold:
            raise ValueError("COUNCIL_EXIT_THRESHOLD must not exceed COUNCIL_ENTRY_THRESHOLD")
        if not self.plugins:
            raise ValueError("COUNCIL_PLUGINS needs at least one plug-in")
        return self
