"""The typed records the data layer hands out. Immutable; validated on construction.

Every provider returns these and nothing else, so the quant agents never see a vendor's format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, NamedTuple, get_args

MacroSeries = Literal["rates", "inflation", "unemployment"]
"""Canonical macro series: ``rates`` (policy or 10-year yield, %), ``inflation`` (CPI YoY, %),
``unemployment`` (%)."""

MACRO_SERIES: tuple[MacroSeries, ...] = get_args(MacroSeries)


class Dataset(StrEnum):
    """The datasets a provider may serve."""

    BARS = "bars"
    FUNDAMENTALS = "fundamentals"
    HEADLINES = "headlines"
    MACRO = "macro"


IMPACTED_SIGNALS: dict[Dataset, frozenset[str]] = {
    Dataset.BARS: frozenset({"technical"}),
    Dataset.FUNDAMENTALS: frozenset({"fundamental"}),
    Dataset.HEADLINES: frozenset({"sentiment"}),
    Dataset.MACRO: frozenset({"macro"}),
}
"""Which quant signals depend on a dataset: what to avoid when it is quarantined (runbook SOP 2)."""


class DatasetKey(NamedTuple):
    """What gets quarantined: one provider's copy of one dataset for one symbol (or macro series)."""

    provider: str
    dataset: Dataset
    symbol: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.dataset.value}/{self.symbol}"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class Bar:
    """One daily OHLCV bar. Prices in the instrument's currency, as the source gives them.

    Construction does not police OHLC consistency or positivity: bad vendor data must be representable
    so that the quality checks can see it and quarantine it.
    """

    symbol: str
    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    adj_close: float | None = None

    @property
    def effective_close(self) -> float:
        """The adjusted close when the source has one, else the close."""
        return self.close if self.adj_close is None else self.adj_close


@dataclass(frozen=True, slots=True)
class Fundamentals:
    """A point-in-time snapshot of a company's fundamentals, as known on ``asof``.

    Ratios are fractions (``net_margin=0.25`` is 25%); ``revenue_growth`` is year over year.
    """

    symbol: str
    asof: date
    sector: str
    eps: float | None
    book_value_per_share: float | None
    revenue_growth: float | None
    net_margin: float | None
    shares_outstanding: float | None
    pe_ratio: float | None = None
    price: float | None = None
    name: str = ""

    @property
    def market_cap(self) -> float | None:
        if self.price is None or self.shares_outstanding is None:
            return None
        return self.price * self.shares_outstanding

    @property
    def price_to_book(self) -> float | None:
        if self.price is None or not self.book_value_per_share:
            return None
        return self.price / self.book_value_per_share


@dataclass(frozen=True, slots=True)
class Headline:
    """One news item. ``ts`` is when it was published (timezone-aware)."""

    id: str
    ts: datetime
    symbol: str | None
    source: str
    title: str
    summary: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        _require_aware("Headline.ts", self.ts)


@dataclass(frozen=True, slots=True)
class MacroObservation:
    """One observation of a canonical macro series (values in percent)."""

    series: MacroSeries
    date: date
    value: float

    def __post_init__(self) -> None:
        if self.series not in MACRO_SERIES:
            raise ValueError(f"unknown macro series {self.series!r}; expected one of {MACRO_SERIES}")


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """A provider's health as of ``checked_at``. ``quarantined`` lists the dataset keys not in use."""

    name: str
    ok: bool
    latency_ms: float | None
    last_error: str | None
    checked_at: datetime
    quarantined: frozenset[DatasetKey] = field(default_factory=frozenset)
    detail: str = ""

    def __post_init__(self) -> None:
        _require_aware("ProviderHealth.checked_at", self.checked_at)


def is_finite(value: float | None) -> bool:
    """True for a real, finite number (not None, NaN or infinity)."""
    return value is not None and math.isfinite(value)
