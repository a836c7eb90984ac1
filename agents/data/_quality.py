"""Data-quality checks. Each returns a :class:`QualityReport` that lists every failed check.

The checks are deliberately plain: a report says *what* looks wrong and *where* (dates), and the
:class:`~agents.data.FailoverProvider` decides what to do about it (runbook SOP 2: quarantine the
dataset, switch to the backup source, tell the quants which signals to avoid).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agents.data._calendar import business_days_between
from agents.data._types import Bar, Dataset, Fundamentals, Headline, MacroObservation, is_finite

_MAX_LISTED_DATES = 20


class QualityCheck(StrEnum):
    STALE = "stale"
    GAPS = "gaps"
    NON_POSITIVE = "non_positive"
    OHLC = "ohlc_inconsistent"
    OUTLIER = "outlier"
    MISSING = "missing"
    DUPLICATES = "duplicates"
    UNORDERED = "unordered"
    LOOKAHEAD = "lookahead"


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """Thresholds. With the defaults, 13 years of real daily prices (tests/data/stocks.csv.gz) pass
    every check except one genuine crash: AAPL's -52% on 2000-09-29, beyond ``max_abs_log_return``,
    which is always flagged for review. Returns are taken on the adjusted close where a bar has one,
    so splits in raw prices are not outliers.

    Attributes:
        stale_business_days: the last bar may be at most this many business days before the as-of date.
        max_gap_business_days: the longest tolerated run of missing business days between two bars
            (4 lets the 2001-09-11..14 market closure through; holidays are single days).
        max_abs_log_return: a one-day |log return| above this is an outlier whatever the history.
        mad_window: trailing window (returns) for the robust scale estimate.
        mad_k: a return further than ``mad_k`` robust sigmas (1.4826 * MAD) from the trailing median is
            an outlier, provided it is also larger than ``mad_min_abs``.
        mad_min_abs: floor that keeps the MAD test quiet on ordinary moves in very calm periods.
        fundamentals_stale_days: calendar days a fundamentals snapshot may lag the as-of date.
        macro_stale_days: calendar days the last monthly macro observation may lag the as-of date.
        macro_max_gap_days: calendar days tolerated between consecutive monthly observations.
    """

    stale_business_days: int = 3
    max_gap_business_days: int = 4
    max_abs_log_return: float = 0.5
    mad_window: int = 60
    mad_k: float = 15.0
    mad_min_abs: float = 0.15
    fundamentals_stale_days: int = 200
    macro_stale_days: int = 75
    macro_max_gap_days: int = 62


@dataclass(frozen=True, slots=True)
class QualityFailure:
    check: QualityCheck
    detail: str
    dates: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The outcome of checking one dataset for one symbol (or macro series)."""

    dataset: Dataset
    symbol: str
    failures: tuple[QualityFailure, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failed_checks(self) -> frozenset[str]:
        return frozenset(f.check.value for f in self.failures)

    def summary(self) -> str:
        if self.ok:
            return f"{self.dataset.value}/{self.symbol}: ok"
        parts = "; ".join(f"{f.check.value}: {f.detail}" for f in self.failures)
        return f"{self.dataset.value}/{self.symbol}: {parts}"


class _Collector:
    def __init__(self) -> None:
        self._dates: dict[QualityCheck, list[date]] = {}
        self._details: dict[QualityCheck, str] = {}

    def add(self, check: QualityCheck, detail: str, when: date | None = None) -> None:
        self._details.setdefault(check, detail)
        dates = self._dates.setdefault(check, [])
        if when is not None and when not in dates and len(dates) < _MAX_LISTED_DATES:
            dates.append(when)

    def report(self, dataset: Dataset, symbol: str) -> QualityReport:
        failures = []
        for check in QualityCheck:  # stable order
            if check in self._details:
                dates = self._dates.get(check, [])
                detail = self._details[check]
                if len(dates) > 1:
                    detail = f"{detail} (+{len(dates) - 1} more)"
                failures.append(QualityFailure(check, detail, tuple(dates)))
        return QualityReport(dataset, symbol, tuple(failures))


def _check_sequence(out: _Collector, dates: Sequence[date], what: str) -> None:
    for d, n in Counter(dates).items():
        if n > 1:
            out.add(QualityCheck.DUPLICATES, f"{what} dated {d} appears {n} times", d)
    for prev, cur in pairwise(dates):
        if cur < prev:
            out.add(QualityCheck.UNORDERED, f"{cur} comes after {prev}", cur)


def check_bars(
    symbol: str,
    bars: Sequence[Bar],
    *,
    asof: date | None = None,
    expect_data: bool = False,
    config: QualityConfig | None = None,
) -> QualityReport:
    """Check a daily bar series.

    Args:
        symbol: the symbol the series is for (bars for another symbol are reported as missing data).
        bars: the series, expected sorted by date.
        asof: the date the data should be current to (for staleness); None skips that check.
        expect_data: an empty series is a failure (the requested range should have had bars).
        config: thresholds.
    """
    cfg = config or QualityConfig()
    out = _Collector()
    if not bars:
        if expect_data:
            out.add(QualityCheck.MISSING, "no bars in the requested range")
        return out.report(Dataset.BARS, symbol)

    closes: list[tuple[date, float]] = []
    for b in bars:
        if b.symbol != symbol:
            out.add(QualityCheck.MISSING, f"bar for {b.symbol!r} in the {symbol!r} series", b.date)
        fields = (b.open, b.high, b.low, b.close, b.volume)
        if not all(is_finite(v) for v in fields) or (b.adj_close is not None and not is_finite(b.adj_close)):
            out.add(QualityCheck.MISSING, f"missing or non-finite field on {b.date}", b.date)
            continue
        if min(b.open, b.high, b.low, b.close) <= 0 or b.volume < 0 or (b.adj_close is not None and b.adj_close <= 0):
            out.add(QualityCheck.NON_POSITIVE, f"non-positive price or negative volume on {b.date}", b.date)
            continue
        tol = 1e-9 * max(b.high, 1.0)
        if b.high + tol < max(b.open, b.close, b.low) or b.low - tol > min(b.open, b.close):
            out.add(
                QualityCheck.OHLC,
                f"OHLC inconsistent on {b.date}: o={b.open} h={b.high} l={b.low} c={b.close}",
                b.date,
            )
        closes.append((b.date, b.effective_close))

    dates = [b.date for b in bars]
    _check_sequence(out, dates, "bar")
    unique = sorted(set(dates))
    for prev, cur in pairwise(unique):
        missing = business_days_between(prev, cur) - 1
        if missing > cfg.max_gap_business_days:
            out.add(QualityCheck.GAPS, f"{missing} business days missing between {prev} and {cur}", cur)
    if asof is not None:
        lag = business_days_between(unique[-1], asof)
        if lag > cfg.stale_business_days:
            out.add(QualityCheck.STALE, f"last bar {unique[-1]} is {lag} business days before {asof}")
    _check_returns(out, sorted(closes), cfg)
    return out.report(Dataset.BARS, symbol)


def _check_returns(out: _Collector, closes: list[tuple[date, float]], cfg: QualityConfig) -> None:
    if len(closes) < 2:
        return
    prices = np.array([c for _, c in closes], dtype=np.float64)
    rets = np.diff(np.log(prices))
    for i in np.flatnonzero(np.abs(rets) > cfg.max_abs_log_return):
        d = closes[i + 1][0]
        out.add(QualityCheck.OUTLIER, f"one-day log return {rets[i]:+.3f} on {d}", d)
    w = cfg.mad_window
    if len(rets) <= w:
        return
    windows = sliding_window_view(rets[:-1], w)  # windows[j] is the history before rets[j + w]
    med = np.median(windows, axis=1)
    mad = np.median(np.abs(windows - med[:, None]), axis=1) * 1.4826
    cur = rets[w:]
    dev = np.abs(cur - med)
    with np.errstate(divide="ignore", invalid="ignore"):
        flagged = (mad > 0) & (dev > cfg.mad_k * mad) & (np.abs(cur) > cfg.mad_min_abs)
    for j in np.flatnonzero(flagged):
        d = closes[j + w + 1][0]
        sigmas = dev[j] / mad[j]
        out.add(QualityCheck.OUTLIER, f"log return {cur[j]:+.3f} on {d} is {sigmas:.0f} robust sigmas", d)


def check_fundamentals(
    symbol: str, snapshot: Fundamentals, *, asof: date, config: QualityConfig | None = None
) -> QualityReport:
    """Check one fundamentals snapshot against the date it is used on."""
    cfg = config or QualityConfig()
    out = _Collector()
    f = snapshot
    if f.symbol != symbol:
        out.add(QualityCheck.MISSING, f"snapshot is for {f.symbol!r}")
    if not f.sector:
        out.add(QualityCheck.MISSING, "sector missing")
    for name in ("eps", "book_value_per_share", "shares_outstanding"):
        if not is_finite(getattr(f, name)):
            out.add(QualityCheck.MISSING, f"{name} missing or non-finite")
    for name in ("revenue_growth", "net_margin", "pe_ratio", "price"):
        value = getattr(f, name)
        if value is not None and not math.isfinite(value):
            out.add(QualityCheck.MISSING, f"{name} non-finite")
    for name in ("shares_outstanding", "price"):
        value = getattr(f, name)
        if is_finite(value) and value <= 0:
            out.add(QualityCheck.NON_POSITIVE, f"{name} is {value}")
    if f.asof > asof:
        out.add(QualityCheck.LOOKAHEAD, f"snapshot dated {f.asof} used on {asof}", f.asof)
    elif (asof - f.asof).days > cfg.fundamentals_stale_days:
        out.add(QualityCheck.STALE, f"snapshot dated {f.asof} is {(asof - f.asof).days} days old", f.asof)
    return out.report(Dataset.FUNDAMENTALS, symbol)


def check_headlines(symbol: str, items: Sequence[Headline], *, until: datetime | None = None) -> QualityReport:
    """Check a symbol's headlines: required fields, duplicate ids, order, nothing from the future."""
    out = _Collector()
    for h in items:
        if not h.title.strip() or not h.id:
            out.add(QualityCheck.MISSING, f"headline {h.id!r} lacks an id or title", h.ts.date())
        if until is not None and h.ts >= until:
            out.add(QualityCheck.LOOKAHEAD, f"headline {h.id!r} at {h.ts.isoformat()} is after {until}")
    for hid, n in Counter(h.id for h in items).items():
        if n > 1:
            out.add(QualityCheck.DUPLICATES, f"headline id {hid!r} appears {n} times")
    for prev, cur in pairwise(items):
        if cur.ts < prev.ts:
            out.add(QualityCheck.UNORDERED, f"headline {cur.id!r} is out of time order", cur.ts.date())
    return out.report(Dataset.HEADLINES, symbol)


_PLAUSIBLE: dict[str, tuple[float, float]] = {
    "rates": (-5.0, 30.0),
    "inflation": (-30.0, 100.0),
    "unemployment": (0.0, 50.0),
}


def check_macro(
    series: str,
    observations: Sequence[MacroObservation],
    *,
    asof: date | None = None,
    expect_data: bool = False,
    config: QualityConfig | None = None,
) -> QualityReport:
    """Check a monthly macro series: finite and plausible values, order, gaps, staleness."""
    cfg = config or QualityConfig()
    out = _Collector()
    if not observations:
        if expect_data:
            out.add(QualityCheck.MISSING, "no observations in the requested range")
        return out.report(Dataset.MACRO, series)
    lo, hi = _PLAUSIBLE.get(series, (-math.inf, math.inf))
    for o in observations:
        if o.series != series:
            out.add(QualityCheck.MISSING, f"observation of {o.series!r} in the {series!r} series", o.date)
        if not math.isfinite(o.value):
            out.add(QualityCheck.MISSING, f"non-finite value on {o.date}", o.date)
        elif not lo <= o.value <= hi:
            out.add(QualityCheck.OUTLIER, f"implausible value {o.value} on {o.date}", o.date)
    dates = [o.date for o in observations]
    _check_sequence(out, dates, "observation")
    unique = sorted(set(dates))
    for prev, cur in pairwise(unique):
        if (cur - prev).days > cfg.macro_max_gap_days:
            out.add(QualityCheck.GAPS, f"{(cur - prev).days} days between {prev} and {cur}", cur)
    if asof is not None and (asof - unique[-1]).days > cfg.macro_stale_days:
        out.add(QualityCheck.STALE, f"last observation {unique[-1]} is {(asof - unique[-1]).days} days old")
    return out.report(Dataset.MACRO, series)
