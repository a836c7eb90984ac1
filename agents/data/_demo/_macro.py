"""Demo macro series: monthly unemployment, CPI inflation and a policy-style rate, with regimes.

A month is in *recession* when more than 60% of its business days and the previous month's were in
the bear regime of the market simulation, so the economy and the market tell the same story. Unemployment
climbs in recessions and drifts down in expansions; inflation is mean-reverting and softens in
recessions; the rate follows a smoothed Taylor-style rule of the other two. Dated on the first of the
month, as FRED dates monthly series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from agents.data._demo._engine import MarketSim, day_index
from agents.data._demo._universe import BEAR, EPOCH, stable_id

_MONTH_BLOCK = 120


def month_start(m: int) -> date:
    return date(EPOCH.year + m // 12, m % 12 + 1, 1)


def month_index(d: date) -> int:
    return (d.year - EPOCH.year) * 12 + d.month - 1


@dataclass(frozen=True, slots=True)
class MacroMonth:
    month: date
    recession: bool
    rates: float
    inflation: float
    unemployment: float


class MacroSim:
    def __init__(self, market: MarketSim) -> None:
        self.market = market
        self._months: list[MacroMonth] = []

    def months(self, upto: int) -> list[MacroMonth]:
        """Months ``0..upto`` (inclusive)."""
        if len(self._months) > upto:
            return self._months[: upto + 1]
        path = self.market.path(day_index(month_start(upto + 1)) + 1)
        stormy = path.regimes == BEAR
        stream = stable_id("macro")
        done = self._months
        for m in range(len(done), upto + 1):
            block, row = divmod(m, _MONTH_BLOCK)
            z = self.market.generator(stream, block).standard_normal((_MONTH_BLOCK, 3))[row]
            lo = day_index(month_start(max(m - 1, 0)))
            hi = day_index(month_start(m + 1))
            recession = bool(stormy[lo:hi].mean() > 0.6)
            if not done:
                u, pi, rate = 5.5, 3.0, 6.0
            else:
                p = done[-1]
                step = 0.25 if recession else -0.03 - 0.03 * (p.unemployment - 4.5)
                u = float(np.clip(p.unemployment + step + 0.08 * z[0], 3.2, 11.0))
                pi = float(np.clip(2.4 + 0.9 * (p.inflation - 2.4) - (0.12 if recession else 0) + 0.22 * z[1], -2, 10))
                target = max(0.1, 2.0 + 1.5 * (pi - 2.0) - 0.5 * (u - 5.0))
                rate = float(np.clip(0.9 * p.rates + 0.1 * target + 0.06 * z[2], 0.05, 12.0))
            done.append(MacroMonth(month_start(m), recession, round(rate, 2), round(pi, 2), round(u, 1)))
        return done[: upto + 1]
