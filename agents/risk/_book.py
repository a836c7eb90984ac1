"""The book as risk sees it: positions marked at the market view's prices, as numpy arrays.

One :class:`Exposure` is built per tick (positions plus the symbols the trade pack names) and the pre-trade
checks move it intent by intent, so every check sees the post-trade book of the intents approved before it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agents.market import MarketData, MarketView
from agents.risk._settings import RiskSettings
from storage.records import Books

F64 = npt.NDArray[np.float64]


@dataclass
class Exposure:
    """Signed quantities and marks per symbol, and the cash. NAV is constant under trades at the mark."""

    symbols: list[str]
    index: dict[str, int]
    qty: F64
    price: F64  # NaN where the symbol has no price at all
    avg_cost: F64
    sectors: list[str]
    cash: float
    priced_today: frozenset[str]

    @property
    def values(self) -> F64:
        out = self.qty * self.price
        # np.nan_to_num costs tens of microseconds a call even when there is nothing to replace (the usual case)
        return out if np.isfinite(out).all() else np.nan_to_num(out)

    @property
    def nav(self) -> float:
        return self.nav_of(self.values)

    @property
    def gross(self) -> float:
        return gross_of(self.values)

    def nav_of(self, values: F64) -> float:
        """NAV given ``values`` (this book's :attr:`values`, computed once by a caller that needs several totals)."""
        return self.cash + float(values.sum())

    def value(self, symbol: str) -> float:
        """The marked value of ``symbol``'s position (0 for a symbol the book does not hold)."""
        j = self.index.get(symbol)
        if j is None:
            return 0.0
        return float(self.qty[j] * self.price[j]) if not math.isnan(self.price[j]) else 0.0

    def sector_gross(self, values: F64 | None = None) -> dict[str, float]:
        """Gross value per sector (``values``: this book's :attr:`values` when the caller already has them)."""
        totals: dict[str, float] = {}
        found = self.values if values is None else values
        for sector, value in zip(self.sectors, np.abs(found).tolist(), strict=True):
            totals[sector] = totals.get(sector, 0.0) + value
        return totals

    def copy(self) -> Exposure:
        return Exposure(
            list(self.symbols),
            dict(self.index),
            self.qty.copy(),
            self.price.copy(),
            self.avg_cost.copy(),
            list(self.sectors),
            self.cash,
            self.priced_today,
        )


def gross_of(values: F64) -> float:
    """Gross exposure of position ``values``."""
    return float(np.abs(values).sum())


def mark(books: Books, view: MarketView | None, settings: RiskSettings, extra: Iterable[str] = ()) -> Exposure:
    """The books marked at ``view``'s prices (the books' own marks where the view has none).

    ``extra`` adds symbols with no position (the trade pack's), so the checks can index them.
    """
    prices = view.today() if view is not None else {}  # the view's shared closes: only read here
    positions = books.positions
    symbols = sorted(positions.keys() | set(extra))
    nan = math.nan
    qty, price, avg = [], [], []
    for symbol in symbols:  # lists made arrays once: the same float64 values as item by item, a fraction of the cost
        pos = positions.get(symbol)
        today = prices.get(symbol)
        if pos is not None:
            qty.append(pos.qty)
            avg.append(pos.avg_cost)
            fallback = pos.last_price if pos.last_price is not None else pos.avg_cost
            price.append(today if today is not None else fallback)
        else:
            qty.append(0.0)
            avg.append(0.0)
            price.append(today if today is not None else nan)
    return Exposure(
        symbols,
        {s: j for j, s in enumerate(symbols)},
        np.array(qty, dtype=np.float64),
        np.array(price, dtype=np.float64),
        np.array(avg, dtype=np.float64),
        sectors_of(symbols, view, settings),
        books.account.cash,
        frozenset(s for s in symbols if s in prices),
    )


class _SectorBuckets:
    """``settings.sector_of(symbol, view.sector(symbol))`` per symbol, remembered for one market data and one
    classification (the settings' sector map and unknown-sector rule; the data's sectors are fixed when it is
    built): a book's symbols are mostly the same every tick."""

    __slots__ = ("buckets", "data", "rule", "sector_map")

    def __init__(self, data: MarketData | None, settings: RiskSettings) -> None:
        self.data = weakref.ref(data) if data is not None else None  # not kept alive by the memo
        self.sector_map = settings.sector_map
        self.rule = settings.unknown_sector
        self.buckets: dict[str, str] = {}

    def fits(self, data: MarketData | None, settings: RiskSettings) -> bool:
        known = self.data() if self.data is not None else None
        return known is data and self.sector_map is settings.sector_map and self.rule == settings.unknown_sector


_SECTORS: dict[int, _SectorBuckets] = {}


def sectors_of(symbols: Iterable[str], view: MarketView | None, settings: RiskSettings) -> list[str]:
    """The sector bucket of each of ``symbols`` (:meth:`RiskSettings.sector_of` of the data's sector)."""
    data = view.data if view is not None else None
    memo = _SECTORS.get(id(settings))
    if memo is None or not memo.fits(data, settings):
        if len(_SECTORS) >= 64:
            _SECTORS.clear()
        memo = _SECTORS[id(settings)] = _SectorBuckets(data, settings)
    buckets, out = memo.buckets, []
    for symbol in symbols:
        sector = buckets.get(symbol)
        if sector is None:
            sector = buckets[symbol] = settings.sector_of(
                symbol, view.sector(symbol) if view is not None else "unknown"
            )
        out.append(sector)
    return out
