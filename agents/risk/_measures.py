"""Portfolio risk measures: 1-day VaR and per-scenario stress losses, both linear in the position values.

VaR is historical simulation on the view's daily returns (the post-trade book's P&L over each past day) when
there are at least ``var_min_history`` NaN-free rows; below that it is parametric (normal, zero mean) on the
sample covariance, and below ``var_min_cov_rows`` it assumes ``var_default_vol`` per name with correlation 1.
Symbols the market data does not know at all are always charged the conservative default.

Stress shocks each exposure by its own scenario: a symbol's shock, else its sector's, else the scenario's
default. Losses are positive numbers in currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from agents.market import MarketView
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
        modelled = np.array([j for j, s in enumerate(symbols) if s in known], dtype=np.intp)
        unmodelled = np.array([j for j, s in enumerate(symbols) if s not in known], dtype=np.intp)
        if view is not None and modelled.size:
            returns = view.returns([symbols[j] for j in modelled], settings.var_lookback)
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
        return NormalDist().inv_cdf(self.confidence)

    def var(self, values: F64) -> float:
        """The 1-day VaR (a positive loss) of the book whose position values are ``values``."""
        x = values[self.modelled]
        if self.method == "historical":
            pnl = self.returns @ x
            core = -float(np.quantile(pnl, 1.0 - self.confidence))
        elif self.method == "parametric":
            assert self.cov is not None
            core = self.z * float(np.sqrt(max(float(x @ self.cov @ x), 0.0)))
        else:
            core = self.z * self.default_vol * float(np.abs(x).sum())
        addon = self.z * self.default_vol * float(np.abs(values[self.unmodelled]).sum())
        return max(core, 0.0) + addon


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
