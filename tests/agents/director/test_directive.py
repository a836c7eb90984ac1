"""The directive: universe, regime, risk budget cut on drawdown and volatility, signals to avoid."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from agents.data import Bar
from agents.director import DirectorSettings, build_directive, drawdown, gross_factor, market_state
from agents.director._directive import IndexCache
from agents.market import MarketData
from agents.quant import macro_regime
from agents.types import MarketSnapshot
from tests.agents.quant._market import crafted_market, monthly, sessions, trend_path

END = date(2021, 6, 30)
S = DirectorSettings()


def snapshot(**kw: object) -> MarketSnapshot:
    return MarketSnapshot(as_of=END, prices={}, provider="test", **kw)


def test_drawdown() -> None:
    assert drawdown([]) == 0.0
    assert drawdown([100.0, 110.0, 99.0]) == pytest.approx(-0.1)
    assert drawdown([100.0, 105.0]) == 0.0


def test_no_cut_when_calm_and_flush() -> None:
    assert gross_factor(-0.02, 0.15, S) == (1.0, [])


def test_drawdown_cut_starts_at_the_soft_limit_and_floors_at_the_hard_one() -> None:
    assert gross_factor(-0.05, 0.1, S)[0] == 1.0
    mid, why = gross_factor(-0.075, 0.1, S)
    assert mid == pytest.approx(0.75)
    assert "drawdown -7.5%" in why[0]
    assert gross_factor(-0.10, 0.1, S)[0] == pytest.approx(0.5)
    assert gross_factor(-0.30, 0.1, S)[0] == pytest.approx(0.5)


def test_volatility_cut_scales_by_target_over_vol_with_the_same_floor() -> None:
    factor, why = gross_factor(0.0, 0.25, S)
    assert factor == pytest.approx(0.8)
    assert "market vol 25%" in why[0]
    assert gross_factor(0.0, 1.0, S)[0] == pytest.approx(0.5)
    assert gross_factor(-0.075, 0.25, S)[0] == pytest.approx(0.75)  # the tighter of the two


def test_market_state_reads_trend_and_volatility() -> None:
    up = crafted_market({"A": trend_path(80, 0.003, noise=0.005), "B": trend_path(80, 0.003, noise=0.005, seed=2)})
    state = market_state(up.view(up.dates[-1]), ["A", "B"], 60, 20)
    assert state.trend > 0.1
    assert state.trend_score > 0.5
    assert 0 < state.vol < 0.2
    wild = crafted_market({"A": trend_path(80, 0.0, noise=0.04)})
    assert market_state(wild.view(wild.dates[-1]), ["A"], 60, 20).vol > 0.4


def test_universe_is_configured_and_tradeable_minus_quarantined_bars() -> None:
    data = crafted_market({"A": [10.0] * 30, "B": [10.0] * 30, "C": [10.0] * 30})
    view = data.view(data.dates[-1])
    assert build_directive(view, S).universe == ["A", "B", "C"]
    configured = DirectorSettings(universe="C,A,ZZZ")
    assert build_directive(view, configured).universe == ["C", "A"]
    d = build_directive(view, S, snapshot=snapshot(quarantined=["demo/bars/B", "demo/headlines/A"]))
    assert d.universe == ["A", "C"]  # headlines quarantined for A: A still trades (sentiment is avoided instead)
    assert "quarantined bars: B" in d.notes


def test_avoid_signals_come_from_the_data_agent() -> None:
    data = crafted_market({"A": [10.0] * 30})
    view = data.view(data.dates[-1])
    d = build_directive(view, S, snapshot=snapshot(impacted_signals=["sentiment", "fundamental", "sentiment"]))
    assert d.avoid_signals == ["fundamental", "sentiment"]
    assert build_directive(view, S, snapshot=snapshot()).avoid_signals == []


def test_gross_target_is_cut_by_the_nav_drawdown() -> None:
    data = crafted_market({"A": trend_path(40, 0.0, noise=0.001)})
    view = data.view(data.dates[-1])
    calm = build_directive(view, S, navs=[1_000_000.0, 990_000.0])
    hurt = build_directive(view, S, navs=[1_000_000.0, 920_000.0])
    assert calm.gross_target == pytest.approx(1.0)
    assert hurt.gross_target == pytest.approx(0.7)  # 3 of the 5 points to the hard limit: 1 - 0.6 * 0.5
    assert "drawdown -8.0%" in hurt.notes


def test_regimes() -> None:
    bull = crafted_market({"A": trend_path(80, 0.003, noise=0.004), "B": trend_path(80, 0.003, noise=0.004, seed=3)})
    assert build_directive(bull.view(bull.dates[-1]), S).regime == "risk_on"
    bear = crafted_market({"A": trend_path(80, -0.003, noise=0.004)})
    assert build_directive(bear.view(bear.dates[-1]), S).regime == "risk_off"
    storm = crafted_market({"A": trend_path(80, 0.0, noise=0.04)})
    stormy = build_directive(storm.view(storm.dates[-1]), S)
    assert stormy.regime == "stressed"
    assert stormy.gross_target < 1.0
    flat = crafted_market({"A": [10.0] * 80})
    assert build_directive(flat.view(flat.dates[-1]), S).regime == "neutral"


def test_macro_tilts_the_regime() -> None:
    macro = [
        *monthly("rates", [1.0 + 0.25 * i for i in range(13)], END),
        *monthly("inflation", [7.0] * 13, END),
        *monthly("unemployment", [4.0] * 10 + [4.4, 4.8, 5.2], END),
    ]
    data = crafted_market({"A": trend_path(80, 0.0005, noise=0.004)}, macro=macro, end=END)
    view = data.view(END)
    regime = macro_regime(view)
    assert regime is not None
    d = build_directive(view, S, macro=regime)
    assert d.regime == "risk_off"
    assert "macro risk_off" in d.notes


def test_max_names_never_exceeds_the_universe() -> None:
    data = crafted_market({"A": [10.0] * 30, "B": [10.0] * 30})
    assert build_directive(data.view(data.dates[-1]), S).max_names == 2
    assert build_directive(data.view(data.dates[-1]), DirectorSettings(max_names=1)).max_names == 1


def test_settings_refuse_inverted_drawdown_limits() -> None:
    with pytest.raises(ValueError, match="DIRECTOR_DRAWDOWN_SOFT"):
        DirectorSettings(drawdown_soft=0.2, drawdown_hard=0.1)


@pytest.mark.parametrize("seed", range(6))
def test_the_index_cache_gives_the_fresh_market_state_bit_for_bit(seed: int) -> None:
    """The director keeps the index's daily returns between ticks: every tick's market state is the one computed
    afresh from the window, to the last bit, through gaps, late listings, a zero close, universes that change,
    repeated and earlier sessions, and a new panel."""
    rng = np.random.default_rng(seed)
    days = sessions(200)
    bars: dict[str, list[Bar]] = {}
    for j in range(int(rng.integers(1, 40)) if seed else 3):  # pairwise sums differ from 9 columns on
        closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        first = int(rng.integers(0, 60)) if j % 3 == 0 else 0  # late listings
        kept = [i for i in range(first, len(days)) if j != 1 or not 70 <= i < 75 or rng.random() > 0.5]  # gaps
        c = closes.tolist()
        bars[f"S{j}"] = [Bar(f"S{j}", days[i], c[i], c[i], c[i], c[i], 1e6) for i in kept]
    bars["S0"][len(bars["S0"]) // 2] = replace(bars["S0"][len(bars["S0"]) // 2], close=0.0)
    data, other = MarketData(bars), MarketData(bars)
    order = list(range(len(days))) + [int(i) for i in rng.integers(0, len(days), 40)]
    caches, served = (IndexCache(), IndexCache()), 0
    for i in order:
        panel = data if i % 17 else other  # now and then another panel: the cache starts over
        view = panel.view(days[i])
        for cache, symbols in zip(caches, (list(view.today()), ["S1", "S0", "NOPE"]), strict=True):
            fresh = market_state(view, symbols, 60, 20)
            served += cache.index(view, symbols, 61) is not None
            assert repr(market_state(view, symbols, 60, 20, cache)) == repr(fresh)
            short = market_state(view, symbols, 5, 3)
            assert repr(market_state(view, symbols, 5, 3, IndexCache())) == repr(short)
    assert served > 50
