"""Compliance rules (``COMPLIANCE_*``): the mandate's restrictions, not risk's appetite.

Concentration limits are fractions of NAV. Switches turn prohibited-tactic rules on or off; the defaults are
the strict ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runtime.settings import split_csv


class ComplianceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLIANCE_", env_file=".env", extra="ignore")

    restricted: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Restricted list: symbols nobody may trade (comma-separated)"
    )
    max_issuer_nav: float = Field(
        default=0.10, gt=0, description="Post-trade |exposure| to one issuer, fraction of NAV"
    )
    max_sector_nav: float = Field(
        default=0.30, gt=0, description="Post-trade gross exposure to one sector, fraction of NAV"
    )
    issuers: dict[str, str] = Field(
        default_factory=dict, description="symbol -> issuer where several symbols share one (JSON; default: itself)"
    )
    wash_window_days: int = Field(
        default=30,
        ge=0,
        description="No opposite-side trade in a name within this many days of its last fill (0 turns the rule off)",
    )
    wash_exempt_reducing: bool = Field(
        default=True,
        description="Orders that only shrink a position (exits, stop-losses) are not wash trades",
    )
    allow_short: bool = Field(default=False, description="Allow sells beyond the long position (short selling)")
    block_self_cross: bool = Field(default=True, description="Veto a buy and a sell of one symbol in one pack")
    block_order_splitting: bool = Field(
        default=True, description="Veto same-side orders of one symbol in one pack that together exceed a size limit"
    )
    split_max_notional_nav: float = Field(
        default=0.05, gt=0, description="The order-size limit that split orders must not evade, fraction of NAV"
    )
    split_max_shares: float = Field(default=100_000, gt=0, description="The order-size limit in shares")
    require_price: bool = Field(default=True, description="Veto trading a symbol with no price in the session")
    min_price: float = Field(
        default=5.0, ge=0, description="Penny-stock floor: no new exposure below this price (0 disables)"
    )
    max_vetoes: int = Field(default=5, ge=1, description="Vetoes within the window that trip compliance.kill_switch")
    veto_window_seconds: float = Field(default=86_400.0, gt=0, description="Window of the veto count (1 day)")

    _split = field_validator("restricted", mode="before")(split_csv)

    @field_validator("restricted")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return sorted({s.strip().upper() for s in value if s.strip()})

    def issuer_of(self, symbol: str) -> str:
        return self.issuers.get(symbol, symbol)

    def summary(self) -> dict[str, Any]:
        """The rules as ``runtime health`` shows them (JSON-ready)."""
        return {
            "restricted": self.restricted,
            "max_issuer_nav": self.max_issuer_nav,
            "max_sector_nav": self.max_sector_nav,
            "wash_window_days": self.wash_window_days,
            "wash_exempt_reducing": self.wash_exempt_reducing,
            "allow_short": self.allow_short,
            "block_self_cross": self.block_self_cross,
            "block_order_splitting": self.block_order_splitting,
            "split_max_notional_nav": self.split_max_notional_nav,
            "require_price": self.require_price,
            "min_price": self.min_price,
            "kill_switch": {"max_vetoes": self.max_vetoes, "window_seconds": self.veto_window_seconds},
        }
