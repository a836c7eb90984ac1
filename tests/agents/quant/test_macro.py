"""Macro plug-in: the regimes the runbook's economy can be in, through cyclical and defensive sectors."""

from __future__ import annotations

from datetime import date

import pytest

from agents.market import MarketData
from agents.quant import (
    RISK_OFF,
    RISK_ON,
    UNKNOWN_SENSITIVITY,
    MacroPlugin,
    default_directive,
    inflation_tent,
    macro_regime,
)
from agents.types import Proposal
from tests.agents.quant._market import crafted_market, monthly

END = date(2021, 6, 30)
SECTORS = {"TECH": "Technology", "UTIL": "Utilities", "ODD": "Basket Weaving"}


def market(rates: list[float], inflation: list[float], unemployment: list[float], end: date = END):  # type: ignore[no-untyped-def]
    macro = (
        monthly("rates", rates, END) + monthly("inflation", inflation, END) + monthly("unemployment", unemployment, END)
    )
    return crafted_market({s: [10.0] * 5 for s in SECTORS}, sectors=SECTORS, macro=macro, end=end)


def propose(data: MarketData) -> dict[str, Proposal]:
    view = data.view(data.dates[-1])
    return {p.symbol: p for p in MacroPlugin().propose(view, default_directive(view))}


def test_rising_rates_and_high_inflation_are_risk_off() -> None:
    data = market([1.0 + 0.25 * i for i in range(13)], [6.0] * 13, [4.0] * 13)
    regime = macro_regime(data.view(END))
    assert regime is not None
    assert regime.label == RISK_OFF
    out = propose(data)
    assert out["TECH"].score < -0.3  # cyclical suffers
    assert out["UTIL"].score > 0.2  # defensive holds up
    assert "risk_off" in out["TECH"].rationale
    assert "cyclical" in out["TECH"].rationale


def test_falling_unemployment_and_moderate_inflation_are_risk_on() -> None:
    data = market([2.0] * 13, [2.2] * 13, [6.0 - 0.1 * i for i in range(13)])
    regime = macro_regime(data.view(END))
    assert regime is not None
    assert regime.label == RISK_ON
    out = propose(data)
    assert out["TECH"].score > 0.3
    assert out["UTIL"].score < -0.2
    assert out["ODD"].score == pytest.approx(regime.score * UNKNOWN_SENSITIVITY)


def test_the_sahm_rule_reads_a_recession() -> None:
    data = market([2.0] * 13, [2.2] * 13, [4.0] * 10 + [4.3, 4.7, 5.0])
    regime = macro_regime(data.view(END))
    assert regime is not None
    assert regime.components["sahm"] == 1.0
    assert regime.components["unemployment"] == -1.0
    assert "Sahm" in regime.describe()
    calm = macro_regime(market([2.0] * 13, [2.2] * 13, [4.0] * 13).view(END))
    assert calm is not None
    assert calm.components["sahm"] == 0.0


def test_stale_or_missing_macro_gives_no_view() -> None:
    stale = market([2.0] * 13, [2.2] * 13, [4.0] * 13, end=date(2022, 6, 30))
    assert macro_regime(stale.view(date(2022, 6, 30))) is None
    assert propose(stale) == {}
    bare = crafted_market({"TECH": [10.0] * 5}, sectors=SECTORS)
    assert propose(bare) == {}


def test_partial_series_still_fire_with_less_confidence() -> None:
    full = propose(market([1.0 + 0.25 * i for i in range(13)], [6.0] * 13, [4.0] * 13))
    macro = monthly("inflation", [6.0] * 13, END)
    only_inflation = crafted_market({"TECH": [10.0] * 5}, sectors=SECTORS, macro=macro)
    part = propose(only_inflation)
    assert part["TECH"].score < 0
    assert part["TECH"].confidence < full["TECH"].confidence


def test_inflation_tent() -> None:
    assert inflation_tent(2.25) == 1.0
    assert inflation_tent(3.75) == pytest.approx(0.0)
    assert inflation_tent(0.75) == pytest.approx(0.0)
    assert inflation_tent(9.0) == -1.0
