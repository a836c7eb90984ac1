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
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from agents.data import Fundamentals
from agents.market import MarketData, MarketView
from agents.quant._plugin import proposal, universe
from agents.quant._settings import QuantSettings
from agents.types import Directive, Proposal

GRAHAM_BASE_YIELD = 4.4


@dataclass(frozen=True, slots=True)
class _Row:
    symbol: str
    sector: str
    price: float
    f: Fundamentals

    @property
    def pe(self) -> float | None:
        eps = self.f.eps
        return self.price / eps if eps is not None and eps > 0 else None


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
        prices = view.prices()
        rows: list[_Row] = []
        for symbol in universe(view, directive):
            f = self._snapshot(view.data, symbol, view)
            if f is None or (view.as_of - f.asof).days > self.s.fundamental_stale_days:
                continue
            rows.append(_Row(symbol, f.sector or view.sector(symbol), prices[symbol], f))
        if not rows:
            return []
        rates = view.macro("rates", 1)
        bond_yield = rates[-1].value if rates else None
        peer_pe = self._peer_medians(rows, lambda r: r.pe, self.s.fundamental_market_pe)
        peer_margin = self._peer_medians(rows, lambda r: r.f.net_margin, None)
        return [self._score(r, peer_pe.get(r.sector), peer_margin.get(r.sector), bond_yield, view) for r in rows]

    @staticmethod
    def _peer_medians(
        rows: list[_Row], metric: Callable[[_Row], float | None], fallback: float | None
    ) -> dict[str, float]:
        """Median of ``metric`` per sector (two peers or more), else over everyone, else ``fallback``."""
        values: dict[str, list[float]] = {}
        everyone: list[float] = []
        for r in rows:
            v = metric(r)
            if v is not None and math.isfinite(v):
                values.setdefault(r.sector, []).append(float(v))
                everyone.append(float(v))
        overall = statistics.median(everyone) if len(everyone) >= 2 else fallback
        out: dict[str, float] = {}
        for r in rows:
            vs = values.get(r.sector, [])
            med = statistics.median(vs) if len(vs) >= 2 else overall
            if med is not None:
                out[r.sector] = med
        return out

    def _score(
        self, r: _Row, peer_pe: float | None, peer_margin: float | None, bond_yield: float | None, view: MarketView
    ) -> Proposal:
        f = r.f
        signals: dict[str, float] = {}
        parts: list[tuple[float, float]] = []  # (weight, component)
        why: list[str] = []
        pe = r.pe
        if pe is not None and peer_pe:
            rel = math.log(peer_pe / pe)
            signals.update(pe=pe, peer_pe=peer_pe, relative_value=rel)
            parts.append((0.4, math.tanh(2.0 * rel)))
            why.append(f"P/E {pe:.1f} vs sector {peer_pe:.1f}")
        elif f.eps is not None and f.eps <= 0:
            why.append("no earnings (no P/E)")
        value = graham_value(f.eps, f.revenue_growth, bond_yield) if f.eps is not None else None
        if value is not None:
            mos = 1.0 - r.price / value
            signals.update(intrinsic_value=value, margin_of_safety=mos)
            parts.append((0.4, math.tanh(1.5 * math.log(value / r.price))))
            why.append(f"margin of safety {mos:+.0%} (Graham value {value:.2f})")
        quality = []
        if f.net_margin is not None and peer_margin is not None:
            quality.append(math.tanh((f.net_margin - peer_margin) / 0.1))
            signals["net_margin"] = f.net_margin
        if f.revenue_growth is not None:
            quality.append(math.tanh(f.revenue_growth / 0.1))
            signals["revenue_growth"] = f.revenue_growth
        if quality:
            q = sum(quality) / len(quality)
            signals["quality"] = q
            parts.append((0.2, q))
            why.append(f"quality {q:+.2f}")
        total = sum(w for w, _ in parts)
        score = sum(w * c for w, c in parts) / total if total else 0.0
        age = (view.as_of - f.asof).days
        freshness = 1.0 if age <= 120 else max(0.2, 1.0 - (age - 120) / (self.s.fundamental_stale_days - 120 + 1))
        confidence = min(total, 1.0) * freshness
        signals["age_days"] = float(age)
        text = "; ".join(why) or "no usable fundamentals"
        return proposal(self.name, r.symbol, score, confidence, f"{text} -> {score:+.2f}", signals)
