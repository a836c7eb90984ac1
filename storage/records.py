"""Typed rows of the ledger. Timestamps are aware UTC datetimes; stored as ISO-8601 text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Side = Literal["buy", "sell"]

# Order lifecycle. ``unknown`` means the broker did not answer in time: reconciled, never "failed".
ORDER_OPEN_STATUSES = ("new", "sent", "acknowledged", "partially_filled", "unknown")
ORDER_FINAL_STATUSES = ("filled", "cancelled", "rejected", "expired")


@dataclass(frozen=True, slots=True)
class StateRecord:
    state: str
    reason: str
    actor: str
    since: datetime
    incident_id: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class Transition:
    seq: int
    ts: datetime
    from_state: str
    to_state: str
    reason: str
    actor: str
    incident_id: str | None
    run_id: str


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    opened_at: datetime
    source: str
    reason: str
    payload: dict[str, Any]
    status: Literal["open", "closed"]
    run_id: str
    closed_at: datetime | None = None
    closed_by: str | None = None


@dataclass(frozen=True, slots=True)
class SignOff:
    ts: datetime
    incident_id: str | None
    operator: str
    approver: str | None
    reason: str
    accepted: bool
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    venue: str
    created_at: datetime
    status: str = "new"
    limit_price: float | None = None
    tick_id: str | None = None
    strategy: str = ""
    priority: int = 0
    filled_qty: float = 0.0
    avg_fill_price: float | None = None
    broker_order_id: str | None = None
    attempts: int = 0
    reason: str = ""
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in ORDER_OPEN_STATUSES

    @property
    def remaining(self) -> float:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True)
class Fill:
    venue: str
    trade_id: str
    client_order_id: str
    ts: datetime
    symbol: str
    side: Side
    qty: float
    price: float
    commission: float = 0.0


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    qty: float
    avg_cost: float
    realised_pnl: float = 0.0
    last_price: float | None = None

    @property
    def market_value(self) -> float:
        return self.qty * (self.last_price if self.last_price is not None else self.avg_cost)


@dataclass(frozen=True, slots=True)
class Account:
    cash: float
    initial_capital: float
    commissions: float = 0.0


@dataclass(frozen=True, slots=True)
class Books:
    """Cash and positions at one instant."""

    account: Account
    positions: dict[str, Position] = field(default_factory=dict)

    @property
    def nav(self) -> float:
        return self.account.cash + sum(p.market_value for p in self.positions.values())

    @property
    def gross_exposure(self) -> float:
        return sum(abs(p.market_value) for p in self.positions.values())

    @property
    def net_exposure(self) -> float:
        return sum(p.market_value for p in self.positions.values())


@dataclass(frozen=True, slots=True)
class NavPoint:
    ts: datetime
    session: str  # the trading session date, ISO (YYYY-MM-DD)
    nav: float
    cash: float
    gross_exposure: float
    net_exposure: float
    tick_id: str | None = None
