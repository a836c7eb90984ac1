"""Risk's own bus payloads and what it leaves for the council between ticks.

The council runs before risk in a tick, so the stop-loss list and the drawdown gross cap of one tick reach it
on the next: on the bus (``risk.stop_loss``) and, durably, in the ledger's kv (:func:`load_constraints`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.messages import register_payload
from storage.ledger import Ledger

STOP_LOSS_TYPE = "risk.stop_loss"
NAMESPACE = "risk"
CONSTRAINTS_KEY = "constraints"


class StopLossPosition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str
    qty: float
    avg_cost: float
    price: float
    loss: float = Field(description="Return since entry (negative)")


class StopLossNotice(BaseModel):
    """Published on ``risk.stop_loss``: positions to close. Risk creates no order: the council and execution do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    positions: list[StopLossPosition] = Field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return [p.symbol for p in self.positions]


register_payload(STOP_LOSS_TYPE, StopLossNotice)


@dataclass(frozen=True, slots=True)
class RiskConstraints:
    """What risk asks of the council for its next trade pack."""

    session: str | None = None  # the session these constraints were set in
    stop_loss: tuple[str, ...] = ()
    gross_cap: float | None = None  # fraction of NAV, set during a drawdown episode

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "stop_loss": list(self.stop_loss), "gross_cap": self.gross_cap}


async def load_constraints(ledger: Ledger) -> RiskConstraints:
    """Risk's latest stop-loss list and gross cap, as the council should read them at the start of a tick."""
    raw: Any = await ledger.get_json(NAMESPACE, CONSTRAINTS_KEY)
    if not raw:
        return RiskConstraints()
    return RiskConstraints(raw.get("session"), tuple(raw.get("stop_loss", ())), raw.get("gross_cap"))
