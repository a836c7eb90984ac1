"""Performance and risk metrics of a backtest: pure functions over a NAV series and its round trips.

Definitions (every one is tested against a hand-computed series):

* **daily returns** ``r``: the first session against the initial capital, then session over session.
* ``total_return`` = final NAV / initial capital - 1.
* ``cagr`` = (final / initial) ** (1 / years) - 1 with ``years`` = calendar days from the first to the last
  session / 365.25; ``None`` for a span of zero days or a non-positive final NAV.
* ``volatility`` = sample standard deviation (ddof 1) of ``r`` x sqrt(periods per year, 252).
* ``sharpe`` = mean(r - rf) / std(r, ddof 1) x sqrt(252), rf the daily rate compounding to the annual
  ``BACKTEST_RISK_FREE_RATE`` (0 by default); ``None`` with fewer than two returns or no variance.
* ``sortino`` = mean(r - rf) / downside deviation x sqrt(252), the downside deviation being
  sqrt(mean(min(r - rf, 0)^2)) over *all* sessions (the usual target-downside form); ``None`` without a
  losing session.
* ``max_drawdown`` = the largest fall from a running peak, as a positive fraction (0.25 = 25%); the initial
  capital is the first peak, so a loss on day one is a drawdown.
* ``max_drawdown_days`` = the longest span, in calendar days, from a peak to the first session whose NAV is
  back at or above it; a drawdown still open at the end counts up to the last session.
* ``calmar`` = cagr / max_drawdown; ``None`` without a drawdown.
* ``turnover`` = traded notional (sum of |qty x price| over fills) / average NAV / years: how many times a
  year the book was traded, annualised over the same calendar span as CAGR; ``None`` for a zero-day span.
* ``hit_rate`` = winning closed round trips / closed round trips (a win has net P&L > 0).
* ``profit_factor`` = gross profit / gross loss over closed round trips; ``None`` without a losing one.
* ``avg_exposure`` = mean over sessions of gross exposure / NAV.
* ``var_usage`` = the largest 1-day VaR / the VaR limit over the run. The VaR of each session is the risk
  agent's own (its post-trade book VaR as a fraction of NAV) when the run recorded it; otherwise a
  historical VaR of the NAV returns (``BACKTEST_VAR_CONFIDENCE`` over a rolling ``BACKTEST_VAR_WINDOW``,
  linear-interpolated quantile, from the 20th return on) against ``RISK_MAX_VAR_NAV``.
* ``trades`` = round trips (closed, plus the one still open at the end if any).

``None`` (JSON null) marks a metric that is undefined for the run, never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
METRIC_KEYS = (
    "final_equity",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_days",
    "turnover",
    "hit_rate",
    "profit_factor",
    "avg_exposure",
    "var_usage",
    "trades",
    "breaches",
    "rejects",
)
"""The keys of ``result.json``'s ``metrics`` object, exactly (issue 4)."""

MIN_VAR_OBSERVATIONS = 20
DAYS_PER_YEAR = 365.25


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def daily_returns(initial: float, nav: Sequence[float] | F64) -> F64:
    """Session returns: the first against ``initial``, then each NAV against the one before."""
    values = np.asarray(nav, dtype=np.float64)
    if values.size == 0:
        return np.empty(0)
    prev = np.concatenate(([initial], values[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = (values - prev) / prev  # not values / prev - 1: that cancels digits on small moves
    return out


def years_between(first: date, last: date) -> float:
    return (last - first).days / DAYS_PER_YEAR


def total_return(initial: float, final: float) -> float | None:
    return _finite(final / initial - 1.0) if initial > 0 else None


def cagr(initial: float, final: float, first: date, last: date) -> float | None:
    years = years_between(first, last)
    if years <= 0 or initial <= 0 or final <= 0:
        return None
    return _finite((final / initial) ** (1.0 / years) - 1.0)


def daily_rate(annual: float, periods: int) -> float:
    """The per-session rate that compounds to ``annual`` over ``periods`` sessions."""
    return float((1.0 + annual) ** (1.0 / periods) - 1.0)


def volatility(returns: F64, periods: int = 252) -> float | None:
    if returns.size < 2:
        return None
    return _finite(float(np.std(returns, ddof=1)) * math.sqrt(periods))


def sharpe(returns: F64, risk_free: float = 0.0, periods: int = 252) -> float | None:
    if returns.size < 2:
        return None
    excess = returns - daily_rate(risk_free, periods)
    sd = float(np.std(returns, ddof=1))
    if sd <= 0 or not math.isfinite(sd):
        return None
    return _finite(float(np.mean(excess)) / sd * math.sqrt(periods))


def sortino(returns: F64, risk_free: float = 0.0, periods: int = 252) -> float | None:
    if returns.size < 2:
        return None
    excess = returns - daily_rate(risk_free, periods)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside <= 0:
        return None
    return _finite(float(np.mean(excess)) / downside * math.sqrt(periods))


def drawdowns(initial: float, nav: Sequence[float] | F64) -> F64:
    """Drawdown at each session as a positive fraction of the running peak (the initial capital included)."""
    values = np.asarray(nav, dtype=np.float64)
    if values.size == 0:
        return np.empty(0)
    peaks = np.maximum.accumulate(np.concatenate(([initial], values)))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = np.where(peaks > 0, 1.0 - values / peaks, 0.0)
    return out


def max_drawdown(initial: float, nav: Sequence[float] | F64) -> float:
    dd = drawdowns(initial, nav)
    return float(max(0.0, dd.max())) if dd.size else 0.0


def max_drawdown_days(dates: Sequence[date], initial: float, nav: Sequence[float] | F64) -> int:
    """Longest peak-to-recovery span in calendar days (an unrecovered drawdown counts to the last session).

    The initial capital is a peak dated at the first session.
    """
    if not dates:
        return 0
    peak, peak_day = initial, dates[0]
    underwater = False
    longest = 0
    for day, value in zip(dates, np.asarray(nav, dtype=np.float64).tolist(), strict=True):
        if value >= peak:
            if underwater:
                longest = max(longest, (day - peak_day).days)
                underwater = False
            peak, peak_day = value, day
        else:
            underwater = True
    if underwater:
        longest = max(longest, (dates[-1] - peak_day).days)
    return longest


def calmar(cagr_value: float | None, max_dd: float) -> float | None:
    if cagr_value is None or max_dd <= 0:
        return None
    return _finite(cagr_value / max_dd)


def turnover(traded_notional: float, nav: Sequence[float] | F64, first: date, last: date) -> float | None:
    values = np.asarray(nav, dtype=np.float64)
    years = years_between(first, last)
    if years <= 0 or values.size == 0:
        return None
    average = float(values.mean())
    return _finite(traded_notional / average / years) if average > 0 else None


def hit_rate(pnls: Sequence[float]) -> float | None:
    """Winning round trips / round trips (closed ones only)."""
    if not pnls:
        return None
    return sum(1 for p in pnls if p > 0) / len(pnls)


def profit_factor(pnls: Sequence[float]) -> float | None:
    """Gross profit / gross loss of the closed round trips; None without a loss (it would be infinite)."""
    profit = sum(p for p in pnls if p > 0)
    loss = -sum(p for p in pnls if p < 0)
    return _finite(profit / loss) if loss > 0 else None


def avg_exposure(gross: Sequence[float] | F64, nav: Sequence[float] | F64) -> float | None:
    g, n = np.asarray(gross, dtype=np.float64), np.asarray(nav, dtype=np.float64)
    if n.size == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 0, np.abs(g) / n, np.nan)
    ratio = ratio[np.isfinite(ratio)]
    return float(ratio.mean()) if ratio.size else None


def historical_var(returns: F64, *, confidence: float = 0.95, window: int = 250) -> F64:
    """Rolling 1-day historical VaR of the returns, as a positive fraction (0 where the quantile is a gain).

    Sessions with fewer than :data:`MIN_VAR_OBSERVATIONS` returns behind them get NaN.
    """
    out = np.full(returns.size, np.nan)
    for t in range(MIN_VAR_OBSERVATIONS - 1, returns.size):
        tail = returns[max(0, t + 1 - window) : t + 1]
        out[t] = max(0.0, -float(np.quantile(tail, 1.0 - confidence)))
    return out


def var_usage(var_nav: Sequence[float | None] | F64, limit: float) -> float | None:
    """The largest VaR (fraction of NAV) over the limit; None when no session has a VaR."""
    values = np.asarray([np.nan if v is None else v for v in var_nav], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0 or limit <= 0:
        return None
    return float(values.max() / limit)


@dataclass(frozen=True)
class Metrics:
    """``result.json``'s ``metrics``: exactly :data:`METRIC_KEYS`."""

    final_equity: float
    total_return: float | None
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_days: int
    turnover: float | None
    hit_rate: float | None
    profit_factor: float | None
    avg_exposure: float | None
    var_usage: float | None
    trades: int
    breaches: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MetricInputs:
    """What the metrics are computed from (one entry per session, oldest first)."""

    initial_capital: float
    dates: Sequence[date]
    nav: Sequence[float]
    gross_exposure: Sequence[float]
    traded_notional: float
    closed_pnls: Sequence[float]
    round_trips: int
    var_nav: Sequence[float | None] | None = None
    var_limit: float = 0.04
    breaches: Mapping[str, int] = field(default_factory=dict)
    rejects: Mapping[str, int] = field(default_factory=dict)


def compute_metrics(
    inputs: MetricInputs,
    *,
    risk_free: float = 0.0,
    periods: int = 252,
    var_confidence: float = 0.95,
    var_window: int = 250,
) -> Metrics:
    """Every metric of :data:`METRIC_KEYS` from one run's inputs."""
    nav = np.asarray(inputs.nav, dtype=np.float64)
    capital = inputs.initial_capital
    final = float(nav[-1]) if nav.size else capital
    rets = daily_returns(capital, nav)
    dates = list(inputs.dates)
    first, last = (dates[0], dates[-1]) if dates else (date.min, date.min)
    growth = cagr(capital, final, first, last)
    dd = max_drawdown(capital, nav)
    if inputs.var_nav is not None and any(v is not None for v in inputs.var_nav):
        var_series: Sequence[float | None] | F64 = inputs.var_nav
    else:
        var_series = historical_var(rets, confidence=var_confidence, window=var_window)
    return Metrics(
        final_equity=final,
        total_return=total_return(capital, final),
        cagr=growth,
        volatility=volatility(rets, periods),
        sharpe=sharpe(rets, risk_free, periods),
        sortino=sortino(rets, risk_free, periods),
        calmar=calmar(growth, dd),
        max_drawdown=dd,
        max_drawdown_days=max_drawdown_days(dates, capital, nav),
        turnover=turnover(inputs.traded_notional, nav, first, last),
        hit_rate=hit_rate(inputs.closed_pnls),
        profit_factor=profit_factor(inputs.closed_pnls),
        avg_exposure=avg_exposure(inputs.gross_exposure, nav),
        var_usage=var_usage(var_series, inputs.var_limit),
        trades=inputs.round_trips,
        breaches=dict(sorted(inputs.breaches.items())),
        rejects=dict(sorted(inputs.rejects.items())),
    )
