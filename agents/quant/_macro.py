"""Macro plug-in: an economic regime from rates, inflation and unemployment, applied through sectors.

The regime score in [-1, 1] (risk-off .. risk-on) blends three components:

* rates: ``-tanh(change / 0.75)`` over ``macro_change_months``: rising rates tighten conditions;
* inflation: a "goldilocks" tent, +1 at 2.25%, 0 at 0.75% and 3.75%, -1 at -0.75% and 5.25% and beyond;
* unemployment: ``-tanh(change / 0.4)``, and the Sahm rule (3-month average at least 0.5 point above the
  12-month low) forces it to -1: a recession has started.

Rising rates with high inflation read risk-off; falling unemployment with moderate inflation reads risk-on.
A symbol's score is the regime score times its sector's sensitivity: cyclicals ride the cycle (positive),
defensives lean against it (negative), an unknown sector counts as plain equity (0.5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.market import MarketView
from agents.quant._plugin import clip_unit, proposal, universe
from agents.quant._settings import QuantSettings
from agents.types import Directive, Proposal

SECTOR_SENSITIVITY: dict[str, float] = {
    "Technology": 1.0,
    "Information Technology": 1.0,
    "Consumer Discretionary": 1.0,
    "Financials": 0.9,
    "Industrials": 0.9,
    "Materials": 0.8,
    "Energy": 0.7,
    "Communication Services": 0.6,
    "Real Estate": 0.4,
    "Health Care": -0.5,
    "Consumer Staples": -0.6,
    "Utilities": -0.7,
}
"""Cyclical (+) versus defensive (-) exposure to the economic cycle, by GICS sector name."""
UNKNOWN_SENSITIVITY = 0.5

RISK_ON, RISK_OFF, NEUTRAL = "risk_on", "risk_off", "neutral"


@dataclass(frozen=True, slots=True)
class MacroRegime:
    """The economy as of a date. ``score`` in [-1, 1]; ``coverage`` the share of series that were usable."""

    score: float
    label: str
    coverage: float
    freshness: float
    components: dict[str, float] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        lv = self.levels
        bits = [
            f"rates {lv['rates']:.2f}% ({lv.get('rates_change', 0.0):+.2f})" if "rates" in lv else "",
            f"inflation {lv['inflation']:.1f}%" if "inflation" in lv else "",
            f"unemployment {lv['unemployment']:.1f}% ({lv.get('unemployment_change', 0.0):+.1f})"
            if "unemployment" in lv
            else "",
        ]
        sahm = " Sahm rule triggered;" if self.components.get("sahm", 0.0) > 0 else ""
        return f"{self.label} {self.score:+.2f}:{sahm} " + ", ".join(b for b in bits if b)


def inflation_tent(pi: float) -> float:
    return max(-1.0, 1.0 - abs(pi - 2.25) / 1.5)


def macro_regime(view: MarketView, change_months: int = 6, stale_days: int = 190) -> MacroRegime | None:
    """The regime from the macro series known on ``view.as_of``; None when no series is usable."""
    n = max(change_months + 1, 12)
    weights = {"rates": 0.35, "inflation": 0.30, "unemployment": 0.35}
    comps: dict[str, float] = {}
    levels: dict[str, float] = {}
    ages: list[int] = []

    rates = view.macro("rates", n)
    if len(rates) > change_months and (view.as_of - rates[-1].date).days <= stale_days:
        change = rates[-1].value - rates[-1 - change_months].value
        comps["rates"] = -math.tanh(change / 0.75)
        levels.update(rates=rates[-1].value, rates_change=change)
        ages.append((view.as_of - rates[-1].date).days)
    infl = view.macro("inflation", 1)
    if infl and (view.as_of - infl[-1].date).days <= stale_days:
        comps["inflation"] = inflation_tent(infl[-1].value)
        levels["inflation"] = infl[-1].value
        ages.append((view.as_of - infl[-1].date).days)
    unemp = view.macro("unemployment", n)
    if len(unemp) > change_months and (view.as_of - unemp[-1].date).days <= stale_days:
        values = [o.value for o in unemp]
        change = values[-1] - values[-1 - change_months]
        sahm = sum(values[-3:]) / 3.0 - min(values[-12:]) >= 0.5 if len(values) >= 12 else False
        comps["unemployment"] = -1.0 if sahm else -math.tanh(change / 0.4)
        comps["sahm"] = 1.0 if sahm else 0.0
        levels.update(unemployment=values[-1], unemployment_change=change)
        ages.append((view.as_of - unemp[-1].date).days)
    used = [k for k in weights if k in comps]
    if not used:
        return None
    total = sum(weights[k] for k in used)
    score = clip_unit(sum(weights[k] * comps[k] for k in used) / total)
    label = RISK_ON if score > 0.2 else RISK_OFF if score < -0.2 else NEUTRAL
    # monthly series are a month old when published: full freshness up to ~2 months
    freshness = 1.0 if max(ages) <= 62 else max(0.3, 1.0 - (max(ages) - 62) / stale_days)
    return MacroRegime(score, label, total, freshness, comps, levels)


class MacroPlugin:
    """The macro regime, tilted by each symbol's cyclical/defensive sensitivity."""

    def __init__(
        self,
        settings: QuantSettings | None = None,
        *,
        sensitivity: Mapping[str, float] | None = None,
        name: str = "macro",
    ) -> None:
        self.name = name
        self.s = settings or QuantSettings()
        self.sensitivity = dict(SECTOR_SENSITIVITY if sensitivity is None else sensitivity)

    def propose(self, view: MarketView, directive: Directive) -> list[Proposal]:
        regime = macro_regime(view, self.s.macro_change_months, self.s.macro_stale_days)
        if regime is None:
            return []
        context = regime.describe()
        confidence = 0.8 * regime.coverage * regime.freshness
        signals = {"regime_score": regime.score, **{f"c_{k}": v for k, v in regime.components.items()}}
        out = []
        for symbol in universe(view, directive):
            sector = view.sector(symbol)
            beta = self.sensitivity.get(sector, UNKNOWN_SENSITIVITY)
            score = regime.score * beta
            kind = "cyclical" if beta > 0 else "defensive"
            why = f"{context}; {sector} is {kind} ({beta:+.1f}) -> {score:+.2f}"
            out.append(proposal(self.name, symbol, score, confidence, why, {**signals, "sensitivity": beta}))
        return out
