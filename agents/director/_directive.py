"""The day's directive from KPIs: universe, regime, risk budget, names, and signals to avoid.

* Universe: the configured symbols (or every symbol) that trade today, less those whose bars are
  quarantined.
* Regime: the equal-weighted market's trend (``trend_lookback`` sessions, volatility-scaled) blended with the
  macro regime; ``stressed`` when market volatility runs above 1.5x the target.
* Gross target: the configured budget, cut when the NAV's drawdown over ``drawdown_lookback`` sessions passes
  ``drawdown_soft`` (linearly down to ``min_gross_factor`` at ``drawdown_hard``) or when annualised market
  volatility exceeds ``vol_target`` (scaled by ``vol_target / vol``, same floor). The tighter cut wins.
* Avoid signals: the data agent's impacted signals (runbook SOP 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agents.director._settings import DirectorSettings
from agents.market import MarketData, MarketView
from agents.quant import MacroRegime, log_returns, view_prices, window
from agents.quant._panel import F64
from agents.types import Directive, MarketSnapshot

TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class MarketState:
    """The equal-weighted market of the universe: trend (log return), its score, annualised volatility."""

    trend: float
    trend_score: float
    vol: float


class IndexCache:
    """The equal-weighted index's daily log return by panel row, kept between ticks for one panel and one list of
    symbols, so that a tick computes the newest row's instead of the whole window's.

    A row's return is the mean over the symbols of ``log(close[t] / close[t - 1])`` (0 where not finite): the same
    element-wise operations on the same numbers as :func:`market_state`'s window (``np.log`` is element-wise, and a
    row's mean is a pairwise sum over that row alone), so the same bits, as a randomised test checks. It serves only
    windows without a gap: a NaN anywhere in the window makes :func:`window` forward-fill from the window's own
    rows, which depends on where the window starts; such windows (and any change of panel or symbols) are computed
    afresh.
    """

    def __init__(self) -> None:
        self._data: MarketData | None = None
        self._symbols: list[str] = []
        self._cols: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._rows: dict[int, float | None] = {}  # row t -> the index's return from t - 1 to t; None: a gap

    def index(self, view: MarketView, symbols: Sequence[str], n: int) -> F64 | None:
        """``log_returns(window(view, symbols, n).values).mean(axis=1)`` when that window has no gap and at least
        three rows; None otherwise (compute it from the window)."""
        data = view.data
        wanted = symbols if isinstance(symbols, list) else list(symbols)
        if data is not self._data or wanted != self._symbols:
            self._data, self._symbols, self._rows = data, list(wanted), {}
            known = [s for s in wanted if s in data.col]
            self._cols = np.fromiter((data.col[s] for s in known), dtype=np.int64, count=len(known))
        r = view.row
        start = max(0, r + 1 - n)
        if r - start < 2 or not self._cols.size:
            return None
        rows = self._rows
        missing = [t for t in range(start + 1, r + 1) if t not in rows]
        if missing:
            lo, hi = missing[0], missing[-1]
            # at least three rows, as every window market_state averages: a panel slice fancy-indexed by column is
            # laid out column-major from two rows on, and the mean of a row then adds its columns one by one, as
            # the window's does; a single row of returns would be contiguous and summed pairwise (other bits)
            first = max(0, min(lo - 1, hi - 2))
            block = data.panel["close"][first : hi + 1][:, self._cols]
            nan = np.isnan(block)
            if nan.any():  # a return touching a row with a NaN in any column is a gap
                gap = nan.sum(axis=1) > 0
                bad = (gap[:-1] | gap[1:]).tolist()
            else:
                bad = [False] * (block.shape[0] - 1)
            means = log_returns(block).mean(axis=1).tolist()
            for t in range(lo, hi + 1):
                i = t - first - 1  # the return from row t - 1 to row t
                rows[t] = None if bad[i] else means[i]
            if len(rows) > 2 * n:
                for old in [t for t in rows if t <= start]:
                    del rows[old]
        found = [rows[t] for t in range(start + 1, r + 1)]
        if None in found:
            return None
        return np.array(found, dtype=np.float64)


def market_state(
    view: MarketView,
    symbols: Sequence[str],
    trend_lookback: int,
    vol_lookback: int,
    cache: IndexCache | None = None,
) -> MarketState:
    """Trend and volatility of the equal-weighted index of ``symbols`` (zeros without history). With a ``cache``,
    the index's returns come from it where it has them (the same numbers)."""
    n = max(trend_lookback, vol_lookback) + 1
    index = cache.index(view, symbols, n) if cache is not None else None
    if index is None:
        w = window(view, symbols, n)
        ok = w.has(min(vol_lookback + 1, w.rows)) if w.rows else np.zeros(0, dtype=bool)
        if w.rows < 3 or not ok.any():
            return MarketState(0.0, 0.0, 0.0)
        index = log_returns(w.values[:, ok]).mean(axis=1)
    trend = float(index[-trend_lookback:].sum())
    daily = float(index[-vol_lookback:].std(ddof=1)) if index.size >= 2 else 0.0
    span = min(trend_lookback, index.size)
    score = math.tanh(trend / (daily * math.sqrt(span))) if daily > 0 else 0.0
    return MarketState(trend, score, daily * math.sqrt(TRADING_DAYS))


def drawdown(navs: Sequence[float]) -> float:
    """The last NAV against the highest of ``navs``: 0 or negative (``-0.07`` = 7% below the peak)."""
    if not navs:
        return 0.0
    peak = max(navs)
    return navs[-1] / peak - 1.0 if peak > 0 else 0.0


def gross_factor(dd: float, vol: float, s: DirectorSettings) -> tuple[float, list[str]]:
    """How much of the gross budget to use, and why it was cut."""
    why: list[str] = []
    loss = -dd
    dd_factor = 1.0
    if loss > s.drawdown_soft:
        depth = min((loss - s.drawdown_soft) / (s.drawdown_hard - s.drawdown_soft), 1.0)
        dd_factor = 1.0 - depth * (1.0 - s.min_gross_factor)
        why.append(f"drawdown {dd:.1%} beyond -{s.drawdown_soft:.0%}: budget x{dd_factor:.2f}")
    vol_factor = 1.0
    if vol > s.vol_target:
        vol_factor = max(s.vol_target / vol, s.min_gross_factor)
        why.append(f"market vol {vol:.0%} above the {s.vol_target:.0%} target: budget x{vol_factor:.2f}")
    return min(dd_factor, vol_factor), why


def excluded_symbols(snapshot: MarketSnapshot | None) -> set[str]:
    """Symbols whose bars are quarantined: ``provider/bars/SYMBOL`` keys (or bare symbols)."""
    out: set[str] = set()
    for key in snapshot.quarantined if snapshot else []:
        parts = key.split("/")
        if len(parts) == 3 and parts[1] == "bars":
            out.add(parts[2])
        elif len(parts) == 1:
            out.add(key)
    return out


def build_directive(
    view: MarketView,
    settings: DirectorSettings,
    *,
    snapshot: MarketSnapshot | None = None,
    navs: Sequence[float] = (),
    macro: MacroRegime | None = None,
    index_cache: IndexCache | None = None,
) -> Directive:
    """The directive for ``view.as_of``. Pure: the agent gathers the inputs (``index_cache`` only saves work)."""
    tradeable = list(view_prices(view))
    wanted = [s for s in settings.universe if s in set(tradeable)] if settings.universe else tradeable
    blocked = excluded_symbols(snapshot)
    universe = [s for s in wanted if s not in blocked]
    market = market_state(view, universe, settings.trend_lookback, settings.vol_lookback, index_cache)
    dd = drawdown(navs)
    factor, cuts = gross_factor(dd, market.vol, settings)
    macro_score = macro.score if macro is not None else 0.0
    blend = 0.5 * market.trend_score + 0.5 * macro_score if macro is not None else market.trend_score
    if market.vol > 1.5 * settings.vol_target or -dd >= settings.drawdown_hard:
        regime = "stressed"
    else:
        regime = "risk_on" if blend > 0.2 else "risk_off" if blend < -0.2 else "neutral"
    notes = [
        f"market trend {math.expm1(market.trend):+.1%} over {settings.trend_lookback} sessions "
        f"(score {market.trend_score:+.2f}), vol {market.vol:.0%}",
        f"drawdown {dd:.1%} over {len(navs)} sessions" if navs else "no NAV history yet",
    ]
    if macro is not None:
        notes.append(f"macro {macro.describe()}")
    notes.extend(cuts)
    if blocked:
        notes.append(f"quarantined bars: {', '.join(sorted(blocked))}")
    avoid = sorted(set(snapshot.impacted_signals)) if snapshot else []
    if avoid:
        notes.append(f"avoid signals: {', '.join(avoid)}")
    return Directive(
        as_of=view.as_of,
        universe=universe,
        regime=regime,
        gross_target=round(settings.gross_target * factor, 6),
        max_names=min(settings.max_names, len(universe)),
        avoid_signals=avoid,
        notes="; ".join(notes),
    )
