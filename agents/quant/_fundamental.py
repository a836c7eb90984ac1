"""Fundamental plug-in: value (P/E against the sector's median, margin of safety) and quality.

* Relative value: ``log(peer median P/E / P/E)``: positive when cheaper than its peers.
* Margin of safety against Graham's revised intrinsic value ``V = EPS * (8.5 + 2g) * 4.4 / Y``
  (``g`` growth in percent, capped at 15; ``Y`` the current rate from the macro ``rates`` series, held in
  [3, 10] so that zero rates do not make every stock look free; 4.4 when unknown).
  ``margin_of_safety = 1 - price / V``; the score uses ``log(V / price)`` so over- and under-valuation weigh
  the same.
* Quality: net margin above the sector's median and revenue growth.

P/E uses today's price from the view, not the price on the fundamentals snapshot. A loss-making company
has no P/E and no Graham value: it scores on quality alone, with lower confidence.
"""

from __future__ import annotations

import bisect
import math
from datetime import date

import numpy as np

from agents.data import Fundamentals
from agents.market import MarketData, MarketView
from agents.quant._panel import F64
from agents.quant._plugin import proposal, universe, view_prices
from agents.quant._settings import QuantSettings
from agents.types import Directive, Proposal

GRAHAM_BASE_YIELD = 4.4


def graham_value(eps: float, growth: float | None, bond_yield: float | None) -> float | None:
    """Graham's revised intrinsic value per share; None for a company without positive earnings."""
    if eps <= 0:
        return None
    g = min(max((growth or 0.0) * 100.0, 0.0), 15.0)
    y = GRAHAM_BASE_YIELD if bond_yield is None else min(max(bond_yield, 3.0), 10.0)
    return eps * (8.5 + 2.0 * g) * GRAHAM_BASE_YIELD / y


class FundamentalPlugin:
    """Value and quality from point-in-time fundamentals."""

    def __init__(self, settings: QuantSettings | None = None, *, name: str = "fundamental") -> None:
        self.name = name
        self.s = settings or QuantSettings()
        self._asofs: dict[tuple[int, str], list[date]] = {}

    def _snapshot(self, data: MarketData, symbol: str, view: MarketView) -> Fundamentals | None:
        # MarketView.fundamentals rebuilds the date list per call; cache it per dataset and symbol
        snaps = data.fundamentals.get(symbol)
        if not snaps:
            return None
        key = (id(data), symbol)
        dates = self._asofs.get(key)
        if dates is None or len(dates) != len(snaps):
            dates = self._asofs[key] = [f.asof for f in snaps]
        i = bisect.bisect_right(dates, view.as_of) - 1
        return snaps[i] if i >= 0 else None

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        px = view_prices(view)
        symbols: list[str] = []
        snaps: list[Fundamentals] = []
        for symbol in universe(view, directive):
            f = self._snapshot(view.data, symbol, view)
            if f is not None and (view.as_of - f.asof).days <= self.s.fundamental_stale_days:
                symbols.append(symbol)
                snaps.append(f)
        if not symbols:
            return []
        nan = math.nan
        price = np.array([px[s] for s in symbols])
        eps = np.array([nan if f.eps is None else f.eps for f in snaps])
        growth = np.array([nan if f.revenue_growth is None else f.revenue_growth for f in snaps])
        margin = np.array([nan if f.net_margin is None else f.net_margin for f in snaps])
        age = np.array([(view.as_of - f.asof).days for f in snaps], dtype=np.float64)
        sectors = [f.sector or view.sector(s) for s, f in zip(symbols, snaps, strict=True)]
        rates = view.macro("rates", 1)
        bond_yield = min(max(rates[-1].value, 3.0), 10.0) if rates else GRAHAM_BASE_YIELD

        with np.errstate(divide="ignore", invalid="ignore"):
            pe = np.where(eps > 0, price / eps, nan)
            peer_pe = _peer_median(pe, sectors, self.s.fundamental_market_pe)
            rel = np.log(peer_pe / pe)
            g = np.clip(np.nan_to_num(growth) * 100.0, 0.0, 15.0)
            value = np.where(eps > 0, eps * (8.5 + 2.0 * g) * GRAHAM_BASE_YIELD / bond_yield, nan)
            mos = 1.0 - price / value
            peer_margin = _peer_median(margin, sectors, nan)
            q_margin = np.tanh((margin - peer_margin) / 0.1)
            q_growth = np.tanh(growth / 0.1)
            q_n = np.isfinite(q_margin).astype(float) + np.isfinite(q_growth)
            quality = np.where(q_n > 0, (np.nan_to_num(q_margin) + np.nan_to_num(q_growth)) / q_n, nan)
            parts = [(0.4, np.tanh(2.0 * rel)), (0.4, np.tanh(1.5 * np.log(value / price))), (0.2, quality)]
            total = sum(np.where(np.isfinite(c), w, 0.0) for w, c in parts)
            score = np.where(total > 0, sum(np.nan_to_num(c) * w for w, c in parts) / total, 0.0)
        span = self.s.fundamental_stale_days - 120 + 1
        freshness = np.where(age <= 120, 1.0, np.maximum(0.2, 1.0 - (age - 120) / span))
        confidence = np.minimum(total, 1.0) * freshness

        cols = np.stack([pe, peer_pe, rel, value, mos, quality, score, confidence, margin, growth, age, eps]).tolist()
        pe_, ppe, rel_, val, mos_, q, sc, cf, mg, gr, ag, ep = cols
        out = []
        for j, symbol in enumerate(symbols):
            why = []
            if math.isfinite(pe_[j]):
                why.append(f"P/E {pe_[j]:.1f} vs sector {ppe[j]:.1f}")
            elif math.isfinite(ep[j]) and ep[j] <= 0:
                why.append("no earnings (no P/E)")
            if math.isfinite(val[j]):
                why.append(f"margin of safety {mos_[j]:+.0%} (Graham value {val[j]:.2f})")
            if math.isfinite(q[j]):
                why.append(f"quality {q[j]:+.2f}")
            text = "; ".join(why) or "no usable fundamentals"
            signals = {
                "pe": pe_[j],
                "peer_pe": ppe[j],
                "relative_value": rel_[j],
                "intrinsic_value": val[j],
                "margin_of_safety": mos_[j],
                "quality": q[j],
                "net_margin": mg[j],
                "revenue_growth": gr[j],
                "age_days": ag[j],
            }
            out.append(proposal(self.name, symbol, sc[j], cf[j], f"{text} -> {sc[j]:+.2f}", signals))
        return out


def _peer_median(values: F64, sectors: list[str], fallback: float) -> F64:
    """Each entry's sector median of the finite ``values`` (two peers or more), else everyone's median (two
    or more), else ``fallback``."""
    finite = np.isfinite(values)
    overall = float(np.median(values[finite])) if finite.sum() >= 2 else fallback
    out = np.full(values.shape, overall)
    groups: dict[str, list[int]] = {}
    for i, sector in enumerate(sectors):
        groups.setdefault(sector, []).append(i)
    for idx in groups.values():
        members = np.array(idx)
        peers = values[members][finite[members]]
        if peers.size >= 2:
            out[members] = float(np.median(peers))
    return out
