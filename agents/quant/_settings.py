"""Settings of the quant plug-ins (``QUANT_*``): the parameters of each built-in signal and how proposals are
published. Which plug-ins sit on the council is the council's setting (``COUNCIL_PLUGINS``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PublishMode = Literal["each", "batch", "off"]
TechnicalMode = Literal["blend", "sma_cross"]


class QuantSettings(BaseSettings):
    """Parameters of the built-in plug-ins. Defaults are the production defaults."""

    model_config = SettingsConfigDict(env_prefix="QUANT_", env_file=".env", extra="ignore")

    publish: PublishMode = Field(
        default="batch",
        description=(
            "How plug-ins publish proposals on strategy.proposal.<plugin>: 'batch' = one 'strategy.proposals' message "
            "per plug-in per tick (all its proposals), 'each' = one 'strategy.proposal' message per proposal, "
            "'off' = none"
        ),
    )

    technical_mode: TechnicalMode = Field(
        default="blend",
        description="'blend' = trend + momentum + mean reversion; 'sma_cross' = pure +1/-1 SMA cross (reference)",
    )
    technical_fast: int = Field(default=20, ge=1, description="Fast simple moving average, sessions")
    technical_slow: int = Field(default=50, ge=2, description="Slow simple moving average, sessions")
    momentum_lookback: int = Field(default=252, ge=2, description="Momentum lookback, sessions (12 months)")
    momentum_skip: int = Field(default=21, ge=0, description="Most recent sessions left out of momentum (1 month)")
    zscore_window: int = Field(default=20, ge=3, description="Window of the mean-reversion price z-score, sessions")
    rsi_period: int = Field(default=14, ge=2, description="RSI period, sessions (simple-average RSI)")
    vol_window: int = Field(default=20, ge=2, description="Window of the daily volatility that scales signals")
    mean_reversion_weight: float = Field(
        default=0.5, ge=0, le=1, description="Weight of mean reversion when there is no trend (fades as trend grows)"
    )

    fundamental_stale_days: int = Field(
        default=400, ge=1, description="Fundamentals older than this many days give no view"
    )
    fundamental_market_pe: float = Field(
        default=18.0, gt=0, description="Peer P/E when neither the sector nor the universe has two P/Es"
    )

    sentiment_lookback_days: int = Field(default=5, ge=1, description="Days of headlines scored")
    sentiment_half_life_days: float = Field(default=1.5, gt=0, description="Half-life of a headline's weight")
    sentiment_confidence_k: float = Field(
        default=2.0, gt=0, description="Effective headline count at which confidence reaches 0.5"
    )

    macro_change_months: int = Field(default=6, ge=1, description="Months over which rate/unemployment trends run")
    macro_stale_days: int = Field(default=190, ge=1, description="Macro data older than this gives no view")

    @model_validator(mode="after")
    def _check_windows(self) -> QuantSettings:
        if self.technical_fast >= self.technical_slow:
            raise ValueError("QUANT_TECHNICAL_FAST must be shorter than QUANT_TECHNICAL_SLOW")
        if self.momentum_skip >= self.momentum_lookback:
            raise ValueError("QUANT_MOMENTUM_SKIP must be shorter than QUANT_MOMENTUM_LOOKBACK")
        return self
