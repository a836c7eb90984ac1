"""Execution settings (``EXECUTION_*``): the paper venues' fill model, routing and the failure guardrails."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agents.execution._fill_model import FillModel
from runtime.settings import split_csv
from runtime.topics import valid_segment


class ExecutionSettings(BaseSettings):
    """How orders reach the venues and how the paper venues fill them."""

    model_config = SettingsConfigDict(env_prefix="EXECUTION_", env_file=".env", extra="ignore")

    fill_model: Literal["open", "vwap"] = Field(
        default="open", description="Paper fill price: the next session's open, or that bar's VWAP ~ (O+H+L+C)/4"
    )
    costs: Literal["model", "none"] = Field(
        default="model", description="'none' disables slippage and commission: exact fills at the reference price"
    )
    slippage_bps: float = Field(default=5.0, ge=0, le=1000, description="Adverse slippage on paper fills, in bps")
    commission_per_share: float = Field(default=0.005, ge=0, description="Paper commission per share")
    min_commission: float = Field(default=1.0, ge=0, description="Minimum paper commission per order")
    participation_cap: float = Field(
        default=0.1, gt=0, le=1, description="Largest share of a bar's volume one order may take (rest stays working)"
    )
    order_ttl_bars: int = Field(
        default=5, ge=0, description="Bars a paper order may stay working before the venue expires it (0: never)"
    )
    venues: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["PAPER-A", "PAPER-B"],
        description="Venues in routing order, comma-separated: the first is primary, the others alternates",
    )
    max_retries: int = Field(
        default=1, ge=0, le=5, description="Retries of a rejected or unreachable order on the next venue"
    )
    timeout_seconds: float = Field(
        default=5.0, gt=0, description="Seconds a venue gets to answer before the order is 'unknown'"
    )
    failure_limit: int = Field(
        default=3, ge=1, description="Consecutive send failures that halt trading (runbook SOP 5)"
    )
    retry_collar_bps: float = Field(
        default=200.0, gt=0, description="A retry is sent only while the last price is this close to the decision's"
    )
    limit_offset_bps: float | None = Field(
        default=None,
        gt=0,
        description="If set, orders carry a protective limit this far beyond the decision price; unset: market",
    )
    initial_capital: float = Field(default=1_000_000.0, gt=0, description="Cash the ledger opens with (once)")

    _split = field_validator("venues", mode="before")(split_csv)

    @field_validator("venues")
    @classmethod
    def _check_venues(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one venue is needed")
        if len(set(value)) != len(value):
            raise ValueError("venue names must be unique")
        for name in value:
            if not valid_segment(name):
                raise ValueError(f"venue {name!r} may only use letters, digits, '.', '-' and '_'")
        return value

    def model_for_fills(self) -> FillModel:
        """The paper venues' :class:`FillModel` (costs dropped when ``costs`` is 'none')."""
        if self.costs == "none":
            return FillModel.no_costs(self.fill_model, self.participation_cap)
        return FillModel(
            basis=self.fill_model,
            slippage_bps=self.slippage_bps,
            commission_per_share=self.commission_per_share,
            min_commission=self.min_commission,
            participation=self.participation_cap,
        )
