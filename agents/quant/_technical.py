"""Technical plug-in: trend (SMA cross), 12-1 momentum and mean reversion (z-score, RSI), vectorised.

The blend follows the trend when there is one and leans on mean reversion only when there is not:
``score = follow * (1 - m) + reversion * m`` with ``m = mean_reversion_weight * (1 - |follow|)``.
Every component is a volatility-scaled number squashed into [-1, 1] with ``tanh``, so a quiet stock and a
wild one speak the same units. ``sma_cross`` mode is the backtest reference strategy: +1 when the fast SMA
is above the slow one, -1 otherwise, nothing else.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

import numpy as np

from agents.market import MarketView
from agents.quant._panel import F64, daily_vol, window
from agents.quant._plugin import proposal_fields, universe, validate_proposals
from agents.quant._settings import QuantSettings, TechnicalMode
from agents.types import Directive, Proposal


def sma(values: F64, n: int) -> F64:
    """Simple moving average of the last ``n`` rows per column."""
    out: F64 = values[-n:].mean(axis=0)
    return out


def sma_cross(values: F64, fast: int, slow: int) -> F64:
    """+1 where the fast SMA is above the slow one, -1 otherwise (including equal), per column."""
    return np.where(sma(values, fast) > sma(values, slow), 1.0, -1.0)


def rsi(values: F64, period: int) -> F64:
    """Simple-average RSI (Cutler) over the last ``period`` changes per column; 50 where nothing moved."""
    diffs = np.diff(values[-(period + 1) :], axis=0)
    gains = np.clip(diffs, 0.0, None).sum(axis=0)
    losses = np.clip(-diffs, 0.0, None).sum(axis=0)
    total = gains + losses
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, 100.0 * gains / total, 50.0)
    return out


def zscore(values: F64, n: int) -> F64:
    """(last - mean) / std of the last ``n`` prices per column; 0 for a flat window."""
    tail = values[-n:]
    sd = tail.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (tail[-1] - tail.mean(axis=0)) / sd, 0.0)
    return z


class TechnicalPlugin:
    """Trend/momentum + mean reversion, or the pure SMA cross in ``sma_cross`` mode."""

    def __init__(
        self,
        settings: QuantSettings | None = None,
        *,
        mode: TechnicalMode | None = None,
        fast: int | None = None,
        slow: int | None = None,
        name: str = "technical",
    ) -> None:
        s = settings or QuantSettings()
        self.name = name
        self.mode: TechnicalMode = mode or s.technical_mode
        self.fast = fast or s.technical_fast
        self.slow = slow or s.technical_slow
        if self.fast >= self.slow:
            raise ValueError(f"technical plug-in: fast SMA ({self.fast}) must be shorter than slow ({self.slow})")
        self.s = s

    @property
    def lookback(self) -> int:
        """Sessions of history read each tick."""
        if self.mode == "sma_cross":
            return self.slow
        s = self.s
        return max(self.slow, s.momentum_lookback + 1, s.zscore_window, s.rsi_period + 1, s.vol_window + 1)

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        w = window(view, universe(view, directive), self.lookback)
        if not w.symbols:
            return []
        if self.mode == "sma_cross":
            return self._sma_cross(w.symbols, w.values, w.has(self.slow))
        return self._blend(w.symbols, w.values, w.history)

    def _sma_cross(self, symbols: list[str], values: F64, ok: np.ndarray) -> list[Proposal]:
        ff, ss = sma(values, self.fast).tolist(), sma(values, self.slow).tolist()
        name, head_fast, head_slow = self.name, f"SMA{self.fast}", f"SMA{self.slow}"
        fields: list[dict[str, Any]] = []
        for j in np.flatnonzero(ok).tolist():
            f, sl = ff[j], ss[j]
            # the float comparison np.where(fast > slow, 1.0, -1.0) makes, a NaN side included (flat)
            if f > sl:
                sig, why = 1.0, f"{head_fast} {f:.4g} > {head_slow} {sl:.4g}: long"
            else:
                sig, why = -1.0, f"{head_fast} {f:.4g} <= {head_slow} {sl:.4g}: flat"
            if isfinite(f) and isfinite(sl):  # what proposal_fields() checks, skipped for the usual finite pair
                # sig is +-1.0 and the confidence 1.0: already in range, nothing to clip
                signals = {"sma_fast": f, "sma_slow": sl}
                fields.append(
                    {
                        "plugin": name,
                        "symbol": symbols[j],
                        "score": sig,
                        "confidence": 1.0,
                        "rationale": why,
                        "signals": signals,
                    }
                )
            else:
                fields.append(proposal_fields(name, symbols[j], sig, 1.0, why, {"sma_fast": f, "sma_slow": sl}))
        return validate_proposals(fields)

    def _blend(self, symbols: list[str], values: F64, history: np.ndarray) -> list[Proposal]:
        s = self.s
        vol = daily_vol(values, s.vol_window)
        fast, slow = sma(values, self.fast), sma(values, self.slow)
        gap = fast / slow - 1.0
        # the spread of two SMAs under a random walk moves about vol * sqrt((slow - fast) / 3)
        trend = np.tanh(gap / (vol * np.sqrt((self.slow - self.fast) / 3.0)))

        span = s.momentum_lookback - s.momentum_skip
        has_mom = history >= s.momentum_lookback + 1
        if values.shape[0] >= s.momentum_lookback + 1:
            end = values.shape[0] - 1 - s.momentum_skip
            mom_ret = np.log(values[end] / values[-1 - s.momentum_lookback])
        else:
            mom_ret = np.zeros(values.shape[1])
        momentum = np.where(has_mom, np.tanh(mom_ret / (vol * np.sqrt(span))), 0.0)

        z = zscore(values, s.zscore_window)
        r = rsi(values, s.rsi_period)
        reversion = 0.5 * -np.tanh(z / 2.0) + 0.5 * (50.0 - r) / 50.0

        follow = np.where(has_mom, 0.6 * trend + 0.4 * momentum, trend)
        m = s.mean_reversion_weight * (1.0 - np.abs(follow))
        score = follow * (1.0 - m) + reversion * m

        # confidence: how many components we have, and how much they agree
        parts = np.stack([0.6 * trend, 0.4 * momentum, m * reversion])
        spread = np.abs(parts).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            agreement = np.where(spread > 0, np.abs(parts.sum(axis=0)) / spread, 0.0)
        coverage = np.where(has_mom, 1.0, 2.0 / 3.0)
        confidence = coverage * (0.5 + 0.5 * agreement)

        # one conversion to Python lists: indexing and formatting numpy scalars per symbol costs ~10x more
        cols = np.stack([trend, momentum, reversion, gap, z, r, vol, score, confidence, np.expm1(mom_ret)]).tolist()
        tr, mo, rv, gp, zz, rr, vv, sc, cf, mr = cols
        mom_ok = has_mom.tolist()
        ready = history >= max(self.slow, s.zscore_window, s.rsi_period + 1)
        head = f"SMA{self.fast}/SMA{self.slow}"
        fields: list[dict[str, Any]] = []
        for j in np.flatnonzero(ready).tolist():
            mom_text = f"12-1 momentum {mr[j]:+.1%}" if mom_ok[j] else "momentum n/a (short history)"
            why = (
                f"trend {tr[j]:+.2f} ({head} {gp[j]:+.1%}), {mom_text}, z {zz[j]:+.2f}, RSI {rr[j]:.0f} -> {sc[j]:+.2f}"
            )
            signals = {
                "trend": tr[j],
                "momentum": mo[j],
                "reversion": rv[j],
                "sma_gap": gp[j],
                "zscore": zz[j],
                "rsi": rr[j],
                "vol": vv[j],
            }
            fields.append(proposal_fields(self.name, symbols[j], sc[j], cf[j], why, signals))
        return validate_proposals(fields)
