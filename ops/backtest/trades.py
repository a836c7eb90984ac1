"""Round trips and per-symbol P&L from a run's fills (average-cost accounting, as the ledger keeps its books).

A **round trip** runs on one symbol from flat to flat: the fill that opens a position starts it, fills in the
same direction add to it, and it closes on the fill that brings the position back to zero. A fill that
crosses zero (long 100, sell 150) closes the trip with the part it needs and opens a new one in the other
direction with the rest; its commission is split pro rata by quantity. P&L is net of commissions. A
position still open at the end is an open round trip, marked at the last price.

Per symbol, ``realised + unrealised`` (both net of commissions) sum to the change in NAV the symbol caused,
so over every symbol they add up to final NAV - initial capital (checked in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

_EPS = 1e-9


@dataclass(frozen=True)
class TradeFill:
    """One execution, as the ledger records it."""

    ts: datetime
    symbol: str
    side: Literal["buy", "sell"]
    qty: float
    price: float
    commission: float = 0.0

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "buy" else -self.qty


@dataclass
class RoundTrip:
    symbol: str
    direction: Literal["long", "short"]
    opened: date
    closed: date | None = None
    max_qty: float = 0.0
    entry_price: float = 0.0  # average cost of the position
    exit_price: float | None = None  # average price of the closing fills
    exit_qty: float = 0.0
    realised: float = 0.0  # gross of commissions
    commissions: float = 0.0
    fills: int = 0
    pnl: float = 0.0  # net: realised (+ unrealised while open) - commissions
    mark: float | None = None  # last price, for an open trip

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["opened"] = self.opened.isoformat()
        out["closed"] = self.closed.isoformat() if self.closed else None
        out["open"] = self.is_open
        return out


@dataclass
class SymbolPnl:
    symbol: str
    realised: float = 0.0  # net of commissions
    unrealised: float = 0.0
    commissions: float = 0.0
    traded_notional: float = 0.0
    fills: int = 0
    round_trips: int = 0
    position: float = 0.0
    avg_cost: float = 0.0
    last_price: float | None = None

    @property
    def total(self) -> float:
        return self.realised + self.unrealised

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


@dataclass
class TradeBook:
    trips: list[RoundTrip] = field(default_factory=list)
    by_symbol: dict[str, SymbolPnl] = field(default_factory=dict)

    @property
    def closed_pnls(self) -> list[float]:
        return [t.pnl for t in self.trips if not t.is_open]

    @property
    def traded_notional(self) -> float:
        return sum(p.traded_notional for p in self.by_symbol.values())


class _Book:
    """The running position of one symbol while fills are folded in."""

    def __init__(self, symbol: str) -> None:
        self.pnl = SymbolPnl(symbol)
        self.qty = 0.0
        self.avg = 0.0
        self.trip: RoundTrip | None = None
        self.trips: list[RoundTrip] = []

    def _open(self, fill: TradeFill, qty: float, commission: float) -> None:
        direction: Literal["long", "short"] = "long" if qty > 0 else "short"
        self.trip = RoundTrip(fill.symbol, direction, fill.ts.date())
        self.trips.append(self.trip)
        self.qty, self.avg = qty, fill.price
        self.trip.entry_price, self.trip.max_qty = fill.price, abs(qty)
        self.trip.commissions += commission
        self.trip.fills += 1

    def apply(self, fill: TradeFill) -> None:
        self.pnl.fills += 1
        self.pnl.traded_notional += abs(fill.qty * fill.price)
        self.pnl.commissions += fill.commission
        signed = fill.signed_qty
        if abs(self.qty) < _EPS:
            self._open(fill, signed, fill.commission)
            return
        trip = self.trip
        assert trip is not None
        if (signed > 0) == (self.qty > 0):  # adding to the position
            new = self.qty + signed
            self.avg = (self.avg * abs(self.qty) + fill.price * abs(signed)) / abs(new)
            self.qty = new
            trip.entry_price, trip.max_qty = self.avg, max(trip.max_qty, abs(new))
            trip.commissions += fill.commission
            trip.fills += 1
            return
        closing = min(abs(signed), abs(self.qty))
        share = closing / abs(signed)
        gain = (fill.price - self.avg) * closing * math.copysign(1.0, self.qty)
        trip.realised += gain
        trip.commissions += fill.commission * share
        trip.fills += 1
        trip.exit_price = ((trip.exit_price or 0.0) * trip.exit_qty + fill.price * closing) / (trip.exit_qty + closing)
        trip.exit_qty += closing
        self.pnl.realised += gain
        self.qty += math.copysign(closing, signed)
        if abs(self.qty) < _EPS:
            self.qty = 0.0
            trip.closed = fill.ts.date()
            trip.pnl = trip.realised - trip.commissions
            self.trip = None
            rest = abs(signed) - closing
            if rest > _EPS:
                self._open(fill, math.copysign(rest, signed), fill.commission * (1.0 - share))

    def finish(self, last_price: float | None) -> None:
        p = self.pnl
        p.realised -= p.commissions
        p.position, p.avg_cost, p.last_price = self.qty, self.avg if self.qty else 0.0, last_price
        p.round_trips = len(self.trips)
        if self.trip is not None:
            mark = last_price if last_price is not None else self.avg
            unrealised = (mark - self.avg) * self.qty
            p.unrealised = unrealised
            self.trip.mark = mark
            self.trip.pnl = self.trip.realised + unrealised - self.trip.commissions


def build_trades(fills: Iterable[TradeFill], last_prices: Mapping[str, float] | None = None) -> TradeBook:
    """Round trips and per-symbol P&L; fills are taken in time order (ties keep their given order)."""
    books: dict[str, _Book] = {}
    for fill in sorted(fills, key=lambda f: f.ts):
        books.setdefault(fill.symbol, _Book(fill.symbol)).apply(fill)
    out = TradeBook()
    for symbol in sorted(books):
        book = books[symbol]
        book.finish((last_prices or {}).get(symbol))
        out.trips.extend(book.trips)
        out.by_symbol[symbol] = book.pnl
    out.trips.sort(key=lambda t: (t.opened, t.symbol))
    return out
