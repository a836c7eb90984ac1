"""The portfolio as published, retained, on ``state/portfolio`` after every reconciliation.

Average-cost accounting makes ``NAV - initial capital = realised + unrealised - commissions``; the realised
total is derived from that identity so it includes positions already closed (the ledger's books list only
open ones).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from runtime.messages import register_payload
from storage.records import Books

PORTFOLIO_TYPE = "portfolio.state"
PORTFOLIO = "portfolio"  # tick output key: the PortfolioState of the tick


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PositionState(_Model):
    symbol: str
    sector: str
    qty: float
    avg_cost: float
    last_price: float | None
    market_value: float
    unrealised_pnl: float
    realised_pnl: float = Field(description="Realised on this open position so far")
    weight: float = Field(description="Market value / NAV")


class PortfolioState(_Model):
    """NAV, cash, positions and exposures after a tick's reconciliation."""

    as_of: date | None
    ts: datetime
    tick_id: str | None = None
    nav: float
    cash: float
    initial_capital: float
    positions: list[PositionState] = Field(default_factory=list)
    gross_exposure: float
    net_exposure: float
    gross_leverage: float = Field(description="Gross exposure / NAV")
    exposure_by_sector: dict[str, float] = Field(default_factory=dict, description="Net market value per sector")
    gross_by_sector: dict[str, float] = Field(default_factory=dict, description="Gross market value per sector")
    previous_nav: float | None = Field(default=None, description="NAV at the end of the previous session")
    day_pnl: float = 0.0
    total_pnl: float = Field(description="NAV - initial capital")
    realised_pnl: float = Field(description="All realised P&L, closed positions included, before commissions")
    unrealised_pnl: float
    commissions: float
    open_orders: int = 0
    reconciled: bool = True
    problems: list[str] = Field(default_factory=list)


register_payload(PORTFOLIO_TYPE, PortfolioState)


def portfolio_state(
    books: Books,
    *,
    sector_of: Callable[[str], str],
    as_of: date | None,
    ts: datetime,
    tick_id: str | None,
    previous_nav: float | None,
    open_orders: int,
    problems: list[str] | None = None,
    marks: Mapping[str, float] | None = None,
) -> PortfolioState:
    """The portfolio of ``books``; with ``marks``, of the books as :meth:`storage.ledger.Ledger.mark_books` leaves
    them once it writes those prices (each marked position's last price replaced), without building them."""
    account = books.account
    held = books.positions
    marked = marks or {}
    lasts = [marked.get(s, p.last_price) for s, p in held.items()]
    # Each value once (Position.market_value's product): NAV, gross and net are the very sums Books makes of them.
    values = [p.qty * (last if last is not None else p.avg_cost) for p, last in zip(held.values(), lasts, strict=True)]
    nav = account.cash + sum(values)
    positions: list[dict[str, object]] = []  # validated with the state in one call: no __init__ a position
    net_sector: dict[str, float] = {}
    gross_sector: dict[str, float] = {}
    unrealised = 0.0
    for (symbol, p), last, value in zip(held.items(), lasts, values, strict=True):
        mark = last if last is not None else p.avg_cost
        pnl = p.qty * (mark - p.avg_cost)
        unrealised += pnl
        sector = sector_of(symbol)
        net_sector[sector] = net_sector.get(sector, 0.0) + value
        gross_sector[sector] = gross_sector.get(sector, 0.0) + abs(value)
        positions.append(
            {
                "symbol": symbol,
                "sector": sector,
                "qty": p.qty,
                "avg_cost": p.avg_cost,
                "last_price": last,
                "market_value": value,
                "unrealised_pnl": pnl,
                "realised_pnl": p.realised_pnl,
                "weight": value / nav if nav else 0.0,
            }
        )
    total = nav - account.initial_capital
    gross = sum(abs(v) for v in values)
    return PortfolioState.model_validate(
        {
            "as_of": as_of,
            "ts": ts,
            "tick_id": tick_id,
            "nav": nav,
            "cash": account.cash,
            "initial_capital": account.initial_capital,
            "positions": positions,
            "gross_exposure": gross,
            "net_exposure": sum(values),
            "gross_leverage": gross / nav if nav else 0.0,
            "exposure_by_sector": dict(sorted(net_sector.items())),
            "gross_by_sector": dict(sorted(gross_sector.items())),
            "previous_nav": previous_nav,
            "day_pnl": nav - previous_nav if previous_nav is not None else 0.0,
            "total_pnl": total,
            "realised_pnl": total - unrealised + account.commissions,
            "unrealised_pnl": unrealised,
            "commissions": account.commissions,
            "open_orders": open_orders,
            "reconciled": not problems,
            "problems": list(problems or []),
        }
    )
