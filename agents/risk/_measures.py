"""Portfolio risk measures: 1-day VaR and per-scenario stress losses, both linear in the position values.

VaR is historical simulation on the view's daily returns (the post-trade book's P&L over each past day) when
there are at least ``var_min_history`` NaN-free rows; below that it is parametric (normal, zero mean) on the
sample covariance, and below ``var_min_cov_rows`` it assumes ``var_default_vol`` per name with correlation 1.
Symbols the market data does not know at all are always charged the conservative default.

Stress shocks each exposure by its own scenario: a symbol's shock, else its sector's, else the scenario's
default. Losses are positive numbers in currency.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from agents.market import MarketData, MarketView
from agents.risk._settings import RiskSettings, StressScenario

F64 = npt.NDArray[np.float64]
VarMethod = Literal["historical", "parametric", "default_vol"]


@dataclass(frozen=True)
class VarModel:
    """VaR of a vector of position values aligned to ``symbols`` (the :class:`Exposure`'s order)."""

    method: VarMethod
    confidence: float
    rows: int
    modelled: npt.NDArray[np.intp]  # column -> index into the values vector
    unmodelled: npt.NDArray[np.intp]
    returns: F64  # (rows, modelled) daily simple returns, oldest first
    cov: F64 | None
    default_vol: float

    @classmethod
    def build(cls, view: MarketView | None, symbols: Sequence[str], settings: RiskSettings) -> VarModel:
        known = view.data.col if view is not None else {}
        inside = [j for j, s in enumerate(symbols) if s in known]
        modelled = np.array(inside, dtype=np.intp)
        unmodelled = np.array([j for j, s in enumerate(symbols) if s not in known], dtype=np.intp)
        if view is not None and inside:
            returns = window_returns(view, [symbols[j] for j in inside], settings.var_lookback)
        else:
            returns = np.empty((0, modelled.size))
        rows = int(returns.shape[0])
        method: VarMethod
        cov = None
        if rows >= settings.var_min_history:
            method = "historical"
        elif rows >= settings.var_min_cov_rows:
            method = "parametric"
            cov = np.atleast_2d(returns.T @ returns / rows)  # zero-mean second moment: no drift credit
        else:
            method = "default_vol"
        return cls(method, settings.var_confidence, rows, modelled, unmodelled, returns, cov, settings.var_default_vol)

    @property
    def z(self) -> float:
        return _z(self.confidence)

    def var(self, values: F64) -> float:
        """The 1-day VaR (a positive loss) of the book whose position values are ``values``."""
        return VarTracker(self, values).var


class _PanelReturns:
    """The daily simple returns of a whole close panel, and per column the running count of NaN returns.

    A view's window of returns is then a slice of columns instead of a division over the window every tick. The
    panel of a :class:`MarketData` is never written after it is built (the data agent builds a new one on each
    load), which is what makes keeping this beside it valid; the close array is also checked to be the same.
    """

    __slots__ = ("_gaps", "close", "nans", "rets", "rows_with_nans")

    def __init__(self, close: F64) -> None:
        self.close = close
        with np.errstate(divide="ignore", invalid="ignore"):
            self.rets: F64 = close[1:] / close[:-1] - 1.0  # elementwise: the same floats as any window's division
        self.rets.flags.writeable = False
        self.nans = np.zeros((self.rets.shape[0] + 1, self.rets.shape[1]), dtype=np.int64)
        np.cumsum(np.isnan(self.rets), axis=0, out=self.nans[1:])  # nans[i, j]: NaN returns in rets[:i, j]
        # rows_with_nans[i]: rows of rets[:i] with a NaN in any column (a window without any needs no column check)
        self.rows_with_nans: list[int] = [0, *np.cumsum(np.isnan(self.rets).any(axis=1)).tolist()]
        self._gaps: tuple[int, int, frozenset[int]] = (-1, -1, frozenset())

    def gaps(self, start: int, stop: int) -> frozenset[int]:
        """The columns with a NaN return in ``rets[start:stop]`` (the last window's answer is kept: one a tick)."""
        if self._gaps[:2] != (start, stop):
            if self.rows_with_nans[stop] == self.rows_with_nans[start]:
                self._gaps = (start, stop, frozenset())
            else:
                self._gaps = (start, stop, frozenset(np.flatnonzero(self.nans[stop] != self.nans[start]).tolist()))
        return self._gaps[2]


_PANEL_RETURNS: weakref.WeakKeyDictionary[MarketData, _PanelReturns] = weakref.WeakKeyDictionary()


def window_returns(view: MarketView, symbols: Sequence[str], n: int) -> F64:
    """``view.returns(symbols, n)`` for symbols the data knows, bit for bit and in the same (C) layout: taken from
    the panel's returns computed once, when no return of the window is NaN (the usual case); else the view's."""
    data, row = view.data, view.row
    if row < 1 or not symbols:
        return view.returns(symbols, n)
    close = data.panel["close"]
    found = _PANEL_RETURNS.get(data)
    if found is None or found.close is not close:
        found = _PANEL_RETURNS[data] = _PanelReturns(close)
    cols = [data.col[s] for s in symbols]
    start = max(0, row - n)
    gaps = found.gaps(start, row)
    if gaps and not gaps.isdisjoint(cols):
        return view.returns(symbols, n)  # NaN rows to drop: the view's own filter
    return found.rets[start:row].take(cols, axis=1)


@lru_cache(maxsize=16)
def _z(confidence: float) -> float:
    """The normal quantile of ``confidence`` (asked for every tick, always the same few confidences)."""
    return NormalDist().inv_cdf(confidence)


def lower_quantile(pnl: F64, alpha: float) -> float:
    """``np.quantile(pnl, alpha)`` (linear interpolation) through a partial sort: about 20x faster."""
    n = pnl.shape[0]
    h = (n - 1) * alpha
    lo = int(h)
    part = pnl.copy()  # what np.partition does, without its Python wrapper: copy, then partition in place
    if lo + 1 >= n:
        part.partition(lo)
        return float(part[lo])
    part.partition((lo, lo + 1))
    return float(part[lo] + (h - lo) * (part[lo + 1] - part[lo]))


class VarTracker:
    """The VaR of a book that changes one position at a time, each change O(rows) instead of a full revaluation.

    Historical: keeps the book's P&L on each past day. Parametric: keeps ``cov @ x`` and ``x' cov x``.
    """

    def __init__(self, model: VarModel, values: F64) -> None:
        self.m = model
        self.z = model.z
        self.values = values.astype(np.float64, copy=True)
        self.col = [-1] * values.shape[0]  # position -> column of the returns (-1: not modelled)
        for c, j in enumerate(model.modelled.tolist()):
            self.col[j] = c
        x = self.values[model.modelled]
        self.pnl = model.returns @ x if model.method == "historical" else np.empty(0)
        self.sx = model.cov @ x if model.cov is not None else np.empty(0)
        self.quad = float(x @ self.sx) if model.cov is not None else 0.0
        self.absx = float(np.abs(x).sum())
        self.addon = self.z * model.default_vol * float(np.abs(self.values[model.unmodelled]).sum())
        self._var: float | None = None
        self._tried: tuple[int, float, tuple[F64, float, float, float], float] | None = None

    @property
    def var(self) -> float:
        """The VaR of the book now (computed when asked: most changes never need it)."""
        if self._var is None:
            self._var = self._core(self.pnl, self.quad, self.absx) + self.addon
        return self._var

    def _core(self, pnl: F64, quad: float, absx: float) -> float:
        if self.m.method == "historical":
            core = -lower_quantile(pnl, 1.0 - self.m.confidence)
        elif self.m.method == "parametric":
            core = self.z * float(np.sqrt(max(quad, 0.0)))
        else:
            core = self.z * self.m.default_vol * absx
        return max(core, 0.0)

    def _moved(self, j: int, dv: float) -> tuple[F64, float, float, float]:
        c = self.col[j]
        old = float(self.values[j])
        if c < 0:
            addon = self.addon + self.z * self.m.default_vol * (abs(old + dv) - abs(old))
            return self.pnl, self.quad, self.absx, addon
        pnl = self.pnl + self.m.returns[:, c] * dv if self.m.method == "historical" else self.pnl
        quad = self.quad
        if self.m.cov is not None:
            quad += 2.0 * dv * float(self.sx[c]) + dv * dv * float(self.m.cov[c, c])
        absx = self.absx + abs(old + dv) - abs(old)
        return pnl, quad, absx, self.addon

    def var_if(self, j: int, dv: float) -> float:
        """The VaR if position ``j``'s value changed by ``dv``."""
        moved = self._moved(j, dv)
        var = self._core(moved[0], moved[1], moved[2]) + moved[3]
        self._tried = (j, dv, moved, var)
        return var

    def apply(self, j: int, dv: float) -> None:
        tried, var = self._tried, None
        if tried is not None and tried[0] == j and tried[1] == dv and dv != 0.0:  # the change last tried (no -0.0)
            moved, var = tried[2], tried[3]  # the same inputs: the same state and VaR
        else:
            moved = self._moved(j, dv)
        self.pnl, self.quad, self.absx, self.addon = moved
        c = self.col[j]
        if c >= 0 and self.m.cov is not None:
            self.sx = self.sx + self.m.cov[:, c] * dv
        self.values[j] += dv
        self._var, self._tried = var, None


@dataclass(frozen=True)
class StressTable:
    """The shock of every scenario on every symbol, as a matrix (scenarios x symbols)."""

    names: list[str]
    shocks: F64

    @classmethod
    def build(
        cls, scenarios: Mapping[str, StressScenario], symbols: Sequence[str], sectors: Sequence[str]
    ) -> StressTable:
        names = sorted(scenarios)
        shocks = np.array(
            [[scenarios[n].shock(s, sec) for s, sec in zip(symbols, sectors, strict=True)] for n in names],
            dtype=np.float64,
        ).reshape(len(names), len(symbols))
        return cls(names, shocks)

    def losses(self, values: F64) -> dict[str, float]:
        """Loss (positive) of each scenario on the book whose position values are ``values``."""
        if not self.names:
            return {}
        return dict(zip(self.names, (-(self.shocks @ values)).tolist(), strict=True))

    def worst(self, values: F64) -> tuple[str, float]:
        losses = self.losses(values)
        if not losses:
            return "", 0.0
        name = max(losses, key=lambda n: losses[n])
        return name, losses[name]
