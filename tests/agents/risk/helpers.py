"""Builders shared by the risk and compliance tests: a small deterministic market, books and intents.

Prices follow a seeded random walk rescaled so that each symbol's *last* close is a round number: the
arithmetic in the tests (shares x price vs NAV) stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import numpy as np

from agents.data import Bar
from agents.market import MarketData, MarketView
from agents.types import OrderIntent, Side
from storage.records import Account, Books, Position

START = date(2023, 1, 2)  # a Monday
NAV = 1_000_000.0
SECTORS = {
    "AAPL": "Technology",
    "MSFT": "Technology",
    "NVDA": "Technology",
    "JPM": "Financials",
    "BAC": "Financials",
    "XOM": "Energy",
    "CVX": "Energy",
    "JNJ": "Health Care",
    "PFE": "Health Care",
    "NEE": "Utilities",
    "VOL": "Technology",
}


def sessions(n: int, start: date = START) -> list[date]:
    days: list[date] = []
    d = start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def make_market(
    *,
    n: int = 300,
    last: Mapping[str, float] | None = None,
    vol: Mapping[str, float] | None = None,
    volume: Mapping[str, float] | None = None,
    sectors: Mapping[str, str] | None = None,
    seed: int = 7,
    missing_today: tuple[str, ...] = (),
) -> MarketData:
    """``n`` sessions of bars; ``last`` close per symbol (default 100), daily ``vol`` (default 1%)."""
    last = dict(last or {s: 100.0 for s in SECTORS})
    rng = np.random.default_rng(seed)
    days = sessions(n)
    market_factor = rng.normal(0.0, 0.006, n)
    bars: dict[str, list[Bar]] = {}
    for symbol, close in sorted(last.items()):
        sigma = (vol or {}).get(symbol, 0.01)
        rets = 0.5 * market_factor * sigma / 0.01 + rng.normal(0.0, sigma * 0.85, n)
        path = np.exp(np.cumsum(rets))
        path = path / path[-1] * close
        v = (volume or {}).get(symbol, 1_000_000.0)
        rows = [Bar(symbol, d, p, p * 1.01, p * 0.99, p, v) for d, p in zip(days, path.tolist(), strict=True)]
        if symbol in missing_today:
            rows = rows[:-1]
        bars[symbol] = rows
    return MarketData(bars, sectors=dict(sectors or SECTORS))


def view_of(data: MarketData) -> MarketView:
    return data.view(data.dates[-1])


def books(cash: float, positions: Mapping[str, tuple[float, float]] | None = None, *, initial: float = NAV) -> Books:
    """Books with ``cash`` and positions ``symbol -> (qty, avg_cost)`` (marked by the view later)."""
    return Books(
        Account(cash, initial),
        {s: Position(s, q, a, 0.0, a) for s, (q, a) in (positions or {}).items()},
    )


_ids = count(1)


def intent(
    symbol: str,
    side: Side,
    qty: float,
    *,
    ref: float = 100.0,
    priority: int = 0,
    strategy: str = "council",
    reduces: bool = False,
    id: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        id=id or f"i{next(_ids)}",
        symbol=symbol,
        side=side,
        qty=qty,
        ref_price=ref,
        priority=priority,
        target_weight=0.0,
        current_weight=0.0,
        strategy=strategy,
        consensus=0.5 if side == "buy" else -0.5,
        reduces_exposure=reduces,
    )


def session_ts(day: date, hour: int = 15) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)
