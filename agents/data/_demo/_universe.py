"""The demo universe and the parameters of its market model."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

EPOCH = date(1990, 1, 1)
"""Day 0 of every demo path (a Monday). Nothing is generated before it."""

ANCHOR = date(2020, 1, 2)
"""Prices are pinned to each security's ``anchor_price`` on this date, so levels look familiar."""

BLOCK = 512
"""Random draws come in blocks of this many business days, each seeded on its own, so a path never
depends on how far ahead it was generated."""

BULL, BEAR, VOLATILE = 0, 1, 2
REGIME_NAMES = ("bull", "bear", "volatile")

TRANSITIONS = (
    (0.9920, 0.0040, 0.0040),
    (0.0120, 0.9800, 0.0080),
    (0.0150, 0.0100, 0.9750),
)
"""Daily Markov transition probabilities between regimes (rows: from; columns: to)."""

MARKET_DRIFT = (0.0008, -0.0010, 0.0)
MARKET_VOL = (0.008, 0.014, 0.022)
VOL_MULTIPLIER = (1.0, 1.4, 2.0)
"""Sector and idiosyncratic volatility scale with the regime too."""

SECTOR_VOL = {
    "Technology": 0.008,
    "Financials": 0.008,
    "Energy": 0.010,
    "Health Care": 0.006,
}
DEFAULT_SECTOR_VOL = 0.007


@dataclass(frozen=True, slots=True)
class DemoSecurity:
    """One demo security: its factor loadings and the seeds of its fundamentals.

    Attributes:
        beta: loading on the market factor.
        sector_loading: loading on its sector's factor.
        idio_vol: daily idiosyncratic volatility in the bull regime.
        anchor_price: close on :data:`ANCHOR`.
        pe: long-run price/earnings ratio the EPS path reverts to.
        pb: price/book on the first quarter (book value then grows with retained earnings).
        net_margin: long-run net margin (fraction).
        growth: long-run annual revenue and EPS growth (fraction).
        shares: shares outstanding at the epoch.
        volume: typical daily volume (shares).
        products: nouns the headline templates use.
    """

    symbol: str
    name: str
    sector: str
    beta: float
    sector_loading: float
    idio_vol: float
    anchor_price: float
    pe: float
    pb: float
    net_margin: float
    growth: float
    shares: float
    volume: float
    products: tuple[str, ...]

    @property
    def stream(self) -> int:
        """A stable 32-bit id for seeding (``hash()`` is salted per process; crc32 is not)."""
        return stable_id(f"security:{self.symbol}")


def stable_id(text: str) -> int:
    return zlib.crc32(text.encode())


DEFAULT_UNIVERSE: tuple[DemoSecurity, ...] = (
    DemoSecurity("AAPL", "Apple", "Technology", 1.15, 1.0, 0.012, 75.0, 24.0, 14.0, 0.21, 0.08, 4.4e9,
                 3.0e7, ("iPhone", "Mac", "App Store", "wearables")),
    DemoSecurity("MSFT", "Microsoft", "Technology", 1.05, 1.0, 0.011, 160.0, 30.0, 11.0, 0.33, 0.10,
                 7.6e9, 2.2e7, ("Azure", "Windows", "Office", "Xbox")),
    DemoSecurity("JPM", "JPMorgan Chase", "Financials", 1.10, 1.0, 0.011, 138.0, 12.0, 1.8, 0.30, 0.05,
                 3.1e9, 1.0e7, ("investment banking", "consumer lending", "trading", "card")),
    DemoSecurity("BAC", "Bank of America", "Financials", 1.20, 1.0, 0.013, 35.0, 12.0, 1.3, 0.27, 0.04,
                 8.8e9, 4.0e7, ("mortgage", "wealth management", "deposit", "trading")),
    DemoSecurity("XOM", "Exxon Mobil", "Energy", 0.90, 1.2, 0.012, 70.0, 15.0, 1.6, 0.07, 0.03, 4.2e9,
                 1.5e7, ("upstream", "refining", "LNG", "chemicals")),
    DemoSecurity("CVX", "Chevron", "Energy", 0.95, 1.2, 0.012, 120.0, 16.0, 1.5, 0.08, 0.03, 1.9e9,
                 8.0e6, ("Permian", "refining", "LNG", "renewable fuels")),
    DemoSecurity("JNJ", "Johnson & Johnson", "Health Care", 0.65, 0.9, 0.009, 146.0, 17.0, 6.0, 0.18,
                 0.05, 2.6e9, 7.0e6, ("pharmaceutical", "medtech", "oncology", "consumer health")),
    DemoSecurity("PFE", "Pfizer", "Health Care", 0.70, 0.9, 0.011, 39.0, 14.0, 3.4, 0.25, 0.04, 5.5e9,
                 2.2e7, ("vaccine", "oncology", "drug pipeline", "biosimilars")),
)  # fmt: skip
"""Eight large caps in four sectors, two per sector (real tickers, synthetic prices and news)."""
