"""Demo fundamentals: quarterly snapshots that drift slowly and stay consistent with the price.

TTM EPS grows at the security's long-run rate, error-corrects towards ``price / pe`` (so P/E
mean-reverts instead of wandering off) and carries a small surprise tied to the return on the report
day (so "beats estimates" headlines and up days go together). Book value accumulates half of earnings;
margins and revenue growth are slow AR(1) processes; share counts shrink slowly (buybacks).
A quarter is known from its report date, 28 days after the quarter ends, and never before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from agents.data._calendar import previous_business_day
from agents.data._demo._engine import MarketSim, day_index
from agents.data._demo._universe import EPOCH, DemoSecurity, stable_id
from agents.data._types import Fundamentals

_QUARTER_BLOCK = 64
_REPORT_LAG = timedelta(days=28)


def quarter_end(q: int) -> date:
    """The last day of quarter ``q`` counted from the epoch's first quarter."""
    year = EPOCH.year + q // 4
    month = 3 * (q % 4) + 3
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def report_date(q: int) -> date:
    d = quarter_end(q) + _REPORT_LAG
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


@dataclass(frozen=True, slots=True)
class Quarter:
    reported: date
    eps: float
    expected_eps: float
    book_value_per_share: float
    revenue_growth: float
    net_margin: float
    shares: float

    @property
    def surprise(self) -> float:
        return self.eps / self.expected_eps - 1.0


class FundamentalsSim:
    """Quarterly fundamentals per security, generated on demand and cached."""

    def __init__(self, market: MarketSim) -> None:
        self.market = market
        self._quarters: dict[str, list[Quarter]] = {}

    def quarters(self, sec: DemoSecurity, upto: int) -> list[Quarter]:
        """Quarters ``0..upto`` (inclusive) of ``sec``."""
        done = self._quarters.setdefault(sec.symbol, [])
        if len(done) > upto:
            return done[: upto + 1]
        path = self.market.path(day_index(report_date(upto)) + 1).securities[sec.symbol]
        stream = sec.stream ^ stable_id("fundamentals")
        g = sec.growth
        for q in range(len(done), upto + 1):
            block, row = divmod(q, _QUARTER_BLOCK)
            z = self.market.generator(stream, block).standard_normal((_QUARTER_BLOCK, 4))[row]
            price = float(path.close[day_index(previous_business_day(quarter_end(q)))])
            r_report = float(path.log_return[day_index(report_date(q))])
            if not done:
                eps = expected = price / sec.pe
                prev = Quarter(report_date(q), eps, eps, price / sec.pb, g, sec.net_margin, sec.shares)
            else:
                prev = done[-1]
                expected = prev.eps * math.exp(g / 4)
                anchor_gap = math.log(price / sec.pe) - math.log(expected)
                eps = expected * math.exp(0.15 * anchor_gap + 0.6 * r_report + 0.01 * float(z[0]))
            done.append(
                Quarter(
                    reported=report_date(q),
                    eps=eps,
                    expected_eps=expected,
                    book_value_per_share=prev.book_value_per_share + 0.5 * eps / 4,
                    revenue_growth=g + 0.7 * (prev.revenue_growth - g) + 0.02 * float(z[1]),
                    net_margin=float(
                        np.clip(sec.net_margin + 0.8 * (prev.net_margin - sec.net_margin) + 0.01 * z[2], 0.005, 0.6)
                    ),
                    shares=prev.shares * math.exp(-0.003 + 0.002 * float(z[3])),
                )
            )
        return done[: upto + 1]

    def latest_quarter(self, asof: date) -> int | None:
        """The last quarter whose report date is on or before ``asof``; None before the first one."""
        q = (asof.year - EPOCH.year) * 4 + (asof.month - 1) // 3
        while q >= 0 and report_date(q) > asof:
            q -= 1
        return q if q >= 0 else None

    def snapshot(self, sec: DemoSecurity, asof: date) -> Fundamentals | None:
        q = self.latest_quarter(asof)
        if q is None:
            return None
        quarter = self.quarters(sec, q)[q]
        last_day = previous_business_day(asof)
        price = float(self.market.path(day_index(last_day) + 1).securities[sec.symbol].close[day_index(last_day)])
        return Fundamentals(
            symbol=sec.symbol,
            asof=quarter.reported,
            sector=sec.sector,
            eps=round(quarter.eps, 4),
            book_value_per_share=round(quarter.book_value_per_share, 4),
            revenue_growth=round(quarter.revenue_growth, 6),
            net_margin=round(quarter.net_margin, 6),
            shares_outstanding=float(round(quarter.shares)),
            pe_ratio=round(price / quarter.eps, 4),
            price=price,
            name=sec.name,
        )
