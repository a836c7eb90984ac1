"""Technical plug-in: trend, momentum and mean reversion fire on the shapes they are for, and only those."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from agents.market import MarketData
from agents.quant import (
    QuantSettings,
    TechnicalPlugin,
    default_directive,
    proposal,
    rsi,
    sma,
    sma_cross,
    window,
    zscore,
)
from agents.quant._plugin import proposal_fields, validate_proposals
from agents.types import Directive, Proposal
from tests.agents.quant._market import crafted_market, trend_path


def propose(closes: dict[str, list[float]], plugin: TechnicalPlugin | None = None) -> dict[str, Proposal]:
    data = crafted_market(closes)
    view = data.view(data.dates[-1])
    return {p.symbol: p for p in (plugin or TechnicalPlugin()).propose(view, default_directive(view))}


def test_uptrend_scores_positive_downtrend_negative_flat_zero() -> None:
    out = propose(
        {
            "UP": trend_path(300, 0.002, noise=0.01, seed=1),
            "DOWN": trend_path(300, -0.002, noise=0.01, seed=2),
            "FLAT": [100.0] * 300,
        }
    )
    assert out["UP"].score > 0.1
    assert out["DOWN"].score < -0.1
    assert out["FLAT"].score == pytest.approx(0.0, abs=1e-9)
    assert out["UP"].signals["trend"] > 0
    assert out["UP"].signals["momentum"] > 0
    assert out["DOWN"].signals["trend"] < 0
    assert out["DOWN"].signals["momentum"] < 0
    assert "12-1 momentum" in out["UP"].rationale
    assert "RSI" in out["UP"].rationale


def test_mean_reversion_buys_a_sharp_drop_and_sells_a_sharp_spike_without_a_trend() -> None:
    base = [100.0 * (1.002 if i % 2 else 0.998) for i in range(298)]
    drop = [*base, 92.0, 84.6]
    spike = [*base, 108.0, 116.6]
    out = propose({"DROP": drop, "SPIKE": spike})
    assert out["DROP"].signals["zscore"] < -2
    assert out["DROP"].signals["reversion"] > 0.5
    assert out["DROP"].score > 0.2
    assert out["SPIKE"].signals["zscore"] > 2
    assert out["SPIKE"].signals["reversion"] < -0.5
    assert out["SPIKE"].score < -0.2


def test_a_strong_trend_silences_mean_reversion() -> None:
    out = propose({"UP": trend_path(300, 0.004, noise=0.002)})
    p = out["UP"]
    assert p.signals["reversion"] < 0  # overbought by every oscillator ...
    assert p.score > 0.8  # ... but the trend wins: mean reversion weighs (1 - |trend|)


def test_confidence_is_high_when_components_agree_and_lower_when_they_fight() -> None:
    agree = propose({"UP": trend_path(300, 0.003, noise=0.01, seed=3)})["UP"]
    # a long rise that rolled over: 12-1 momentum up, short trend down
    path = trend_path(240, 0.004, noise=0.005, seed=4)
    path += [path[-1] * float(np.exp(-0.004 * i)) for i in range(1, 61)]
    fight = propose({"ROLL": path})["ROLL"]
    assert fight.signals["momentum"] > 0 > fight.signals["trend"]
    assert agree.confidence > fight.confidence


def test_short_history_gives_no_view_and_momentum_needs_a_year() -> None:
    settings = QuantSettings()
    out = propose({"NEW": trend_path(settings.technical_slow - 1, 0.002), "YOUNG": trend_path(120, 0.002)})
    assert "NEW" not in out
    young = out["YOUNG"]
    assert "momentum n/a" in young.rationale
    assert young.signals["momentum"] == 0.0
    assert young.confidence <= 2 / 3 + 1e-9  # two of the three components available


def test_sma_cross_is_plus_one_above_and_minus_one_otherwise() -> None:
    values = np.array([np.linspace(100, 130, 30), np.linspace(130, 100, 30), np.full(30, 100.0)]).T
    assert sma_cross(values, 10, 30).tolist() == [1.0, -1.0, -1.0]


def test_sma_cross_mode_emits_pure_signals_from_the_slow_window_on() -> None:
    plugin = TechnicalPlugin(mode="sma_cross", fast=10, slow=30)
    out = propose({"UP": trend_path(40, 0.01), "DOWN": trend_path(40, -0.01), "SHORT": trend_path(29, 0.01)}, plugin)
    assert set(out) == {"UP", "DOWN"}
    assert (out["UP"].score, out["UP"].confidence) == (1.0, 1.0)
    assert (out["DOWN"].score, out["DOWN"].confidence) == (-1.0, 1.0)
    assert "SMA10" in out["UP"].rationale
    assert "long" in out["UP"].rationale
    assert set(out["UP"].signals) == {"sma_fast", "sma_slow"}


def test_fast_must_be_shorter_than_slow() -> None:
    with pytest.raises(ValueError, match="shorter"):
        TechnicalPlugin(mode="sma_cross", fast=30, slow=10)
    with pytest.raises(ValueError, match="QUANT_TECHNICAL_FAST"):
        QuantSettings(technical_fast=50, technical_slow=20)


def test_no_look_ahead_the_future_changes_nothing_today() -> None:
    past = trend_path(300, 0.001, noise=0.01, seed=5)
    calm_future = past + trend_path(20, 0.0, start=past[-1])
    wild_future = past + trend_path(20, -0.05, start=past[-1], noise=0.1)
    a, b = crafted_market({"X": calm_future}), crafted_market({"X": wild_future})
    day = a.dates[299]
    view_a, view_b = a.view(day), b.view(day)
    plugin = TechnicalPlugin()
    assert plugin.propose(view_a, default_directive(view_a)) == plugin.propose(view_b, default_directive(view_b))


def test_vectorised_columns_do_not_mix() -> None:
    closes = {f"S{i}": trend_path(300, 0.001 * (i - 2), noise=0.01, seed=i) for i in range(5)}
    data = crafted_market(closes)
    view = data.view(data.dates[-1])
    plugin = TechnicalPlugin()
    together = {p.symbol: p for p in plugin.propose(view, default_directive(view))}
    for symbol in closes:
        alone = plugin.propose(view, Directive(as_of=view.as_of, universe=[symbol], gross_target=1, max_names=1))
        assert alone == [together[symbol]]


def test_gaps_are_forward_filled_and_late_listings_counted() -> None:
    data = crafted_market({"A": trend_path(100, 0.001), "B": trend_path(60, 0.001)})
    w = window(data.view(data.dates[-1]), ["A", "B"], 80)
    assert w.history.tolist() == [80, 60]
    assert np.isfinite(w.values).all()
    assert w.values[:20, 1].tolist() == [w.values[20, 1]] * 20  # before listing: the first price


def test_rsi_and_zscore_edge_cases() -> None:
    flat = np.full((30, 1), 50.0)
    assert rsi(flat, 14).tolist() == [50.0]
    assert zscore(flat, 20).tolist() == [0.0]
    up = np.arange(1.0, 31.0)[:, None]
    assert rsi(up, 14).tolist() == [100.0]


def test_demo_market_gives_technical_views_of_both_signs(demo_data: MarketData) -> None:
    scores = []
    plugin = TechnicalPlugin()
    for day in (date(2018, 3, 1), date(2018, 9, 4), date(2019, 5, 15)):
        view = demo_data.view(day)
        scores += [p.score for p in plugin.propose(view, default_directive(view))]
    assert any(s > 0.05 for s in scores)
    assert any(s < -0.05 for s in scores)


def _one_by_one_sma_cross(plugin: TechnicalPlugin, symbols: list[str], values: np.ndarray) -> list[Proposal]:
    """The sma-cross proposals as the plug-in built them before batch validation: one constructor a proposal."""
    fast, slow = sma(values, plugin.fast), sma(values, plugin.slow)
    out = []
    for j, symbol in enumerate(symbols):
        f, sl = float(fast[j]), float(slow[j])
        sig = 1.0 if f > sl else -1.0
        rel, call = (">", "long") if sig > 0 else ("<=", "flat")
        why = f"SMA{plugin.fast} {f:.4g} {rel} SMA{plugin.slow} {sl:.4g}: {call}"
        out.append(proposal(plugin.name, symbol, sig, 1.0, why, {"sma_fast": f, "sma_slow": sl}))
    return out


def test_sma_cross_batch_validated_proposals_equal_one_constructor_each() -> None:
    plugin = TechnicalPlugin(mode="sma_cross", fast=3, slow=5)
    up, down, flat = np.linspace(1, 5, 5), np.linspace(5, 1, 5), np.full(5, 2.0)
    inf = np.array([1.0, 2.0, 3.0, 4.0, np.inf])  # a non-finite SMA goes through proposal()'s cleaning
    nan = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    values = np.array([up, down, flat, inf, nan]).T
    symbols = ["UP", "DOWN", "FLAT", "INF", "NAN"]
    got = plugin._sma_cross(symbols, values, np.ones(5, dtype=bool))
    want = _one_by_one_sma_cross(plugin, symbols, values)
    assert got == want
    assert [p.model_fields_set for p in got] == [p.model_fields_set for p in want]
    assert [type(p) for p in got] == [Proposal] * 5
    assert got[3].signals == {}  # non-finite SMAs dropped, as proposal() does
    assert got[4].signals == {"sma_fast": 4.0}
    assert got[4].score == -1.0  # a NaN SMA is flat


def test_validate_proposals_is_one_constructor_a_proposal() -> None:
    fields = [
        proposal_fields("p", "A", 2.0, -1.0, "clipped", {"x": 1.0, "y": float("nan")}),
        proposal_fields("p", "B", -0.25, 0.5, "plain", {}),
    ]
    got = validate_proposals(fields)
    assert got == [Proposal(**f) for f in fields]
    assert (got[0].score, got[0].confidence, got[0].signals) == (1.0, 0.0, {"x": 1.0})
    with pytest.raises(ValidationError):
        validate_proposals([{**fields[1], "score": 3.0}])  # still validated
