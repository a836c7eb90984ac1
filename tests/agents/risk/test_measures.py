"""VaR (historical, parametric fallbacks) and stress scenarios that shock each exposure by its own scenario."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from agents.risk import RiskSettings, StressScenario, StressTable, VarModel, default_scenarios
from tests.agents.risk.helpers import make_market, view_of

Z95 = NormalDist().inv_cdf(0.95)


def test_historical_var_is_the_5pct_quantile_of_the_books_past_pnl() -> None:
    view = view_of(make_market())
    model = VarModel.build(view, ["AAPL", "JPM"], RiskSettings())
    assert model.method == "historical"
    assert model.rows == 250
    values = np.array([100_000.0, -50_000.0])
    rets = view.returns(["AAPL", "JPM"], 250)
    expected = -np.quantile(rets @ values, 0.05)
    assert model.var(values) == pytest.approx(expected)
    assert model.var(np.zeros(2)) == 0.0


def test_var_scales_with_size_and_diversifies() -> None:
    view = view_of(make_market())
    model = VarModel.build(view, ["AAPL", "XOM"], RiskSettings())
    one = model.var(np.array([100_000.0, 0.0]))
    assert model.var(np.array([200_000.0, 0.0])) == pytest.approx(2 * one)
    both = model.var(np.array([50_000.0, 50_000.0]))
    assert both < one  # two imperfectly correlated names of half the size each


def test_short_history_falls_back_to_parametric_on_the_sample_covariance() -> None:
    view = view_of(make_market(n=60))
    model = VarModel.build(view, ["AAPL"], RiskSettings())
    assert model.method == "parametric"
    assert model.rows == 59
    rets = view.returns(["AAPL"], 250)[:, 0]
    sigma = float(np.sqrt(np.mean(rets**2)))
    assert model.var(np.array([100_000.0])) == pytest.approx(Z95 * sigma * 100_000)


def test_almost_no_history_assumes_the_default_vol_with_correlation_one() -> None:
    view = view_of(make_market(n=10))
    model = VarModel.build(view, ["AAPL", "JPM"], RiskSettings(var_default_vol=0.03))
    assert model.method == "default_vol"
    assert model.var(np.array([100_000.0, -100_000.0])) == pytest.approx(Z95 * 0.03 * 200_000)


def test_a_symbol_the_data_does_not_know_is_charged_the_default_vol() -> None:
    view = view_of(make_market())
    model = VarModel.build(view, ["AAPL", "GHOST"], RiskSettings(var_default_vol=0.03))
    only_aapl = model.var(np.array([100_000.0, 0.0]))
    assert model.var(np.array([100_000.0, 50_000.0])) == pytest.approx(only_aapl + Z95 * 0.03 * 50_000)


# -- stress ---------------------------------------------------------------------------------------------------------
SYMBOLS = ["JPM", "XOM", "AAPL", "JNJ"]
SECTORS = ["Financials", "Energy", "Technology", "Health Care"]


def test_each_exposure_takes_its_own_sectors_shock() -> None:
    table = StressTable.build(default_scenarios(), SYMBOLS, SECTORS)
    values = np.array([100_000.0, 100_000.0, 100_000.0, 100_000.0])
    losses = table.losses(values)
    assert losses["2008"] == pytest.approx(40_000 + 30_000 + 35_000 + 20_000)
    assert losses["rates_up"] == pytest.approx(-5_000 + 2_000 + 15_000 + 5_000)
    assert losses["tech_crash"] == pytest.approx(10_000 + 0 + 45_000 + 5_000)


def test_per_scenario_stress_differs_from_one_uniform_shock() -> None:
    """A book long banks and short tech: a uniform -35% calls it hedged; the scenarios do not."""
    table = StressTable.build(default_scenarios(), SYMBOLS, SECTORS)
    values = np.array([200_000.0, 0.0, -200_000.0, 0.0])
    uniform_loss = -float((-0.35 * values).sum())
    assert uniform_loss == pytest.approx(0.0)
    losses = table.losses(values)
    assert losses["2008"] == pytest.approx(200_000 * 0.40 - 200_000 * 0.35)  # banks fall further than tech
    assert losses["tech_crash"] == pytest.approx(200_000 * 0.10 - 200_000 * 0.45)  # the short tech leg wins
    assert losses["rates_up"] == pytest.approx(-200_000 * 0.05 - 200_000 * 0.15)
    name, loss = table.worst(values)
    assert name == "2008"
    assert loss == pytest.approx(10_000)


def test_a_symbol_shock_overrides_its_sector_and_unknown_sectors_take_the_default() -> None:
    scenario = StressScenario(sectors={"technology": -0.30}, symbols={"AAPL": -0.60}, default=-0.10)
    table = StressTable.build({"custom": scenario}, ["AAPL", "MSFT", "ZZZ"], ["Technology", "TECHNOLOGY", "unknown"])
    assert table.shocks.tolist() == [[-0.60, -0.30, -0.10]]


def test_scenarios_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_STRESS_SCENARIOS", '{"oil": {"sectors": {"Energy": -0.5}, "default": 0.0}}')
    monkeypatch.setenv("RISK_MAX_SINGLE_NAME_NAV", "0.08")
    settings = RiskSettings()
    assert list(settings.stress_scenarios) == ["oil"]
    assert settings.stress_scenarios["oil"].shock("XOM", "Energy") == -0.5
    assert settings.max_single_name_nav == 0.08


def test_a_shock_below_minus_100pct_is_refused() -> None:
    with pytest.raises(ValueError, match="loses more than everything"):
        StressScenario(sectors={"Energy": -1.5})


def test_pause_must_be_below_kill() -> None:
    with pytest.raises(ValueError, match="DAILY_LOSS_PAUSE"):
        RiskSettings(daily_loss_pause=0.06, daily_loss_kill=0.05)


def test_limits_summary_is_json_ready_and_against_nav() -> None:
    import json

    summary = RiskSettings().limits_summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["basis"] == "NAV"
    assert summary["portfolio"]["max_single_name_nav"] == 0.10
    assert summary["breakers"]["daily_loss_pause"] == -0.02
    assert summary["breakers"]["drawdown_gross_cap"] == pytest.approx(0.6)


def test_the_stress_table_from_remembered_columns_is_the_full_build() -> None:
    from agents.risk._pretrade import _stress_from_columns

    scenarios = default_scenarios()
    books = [
        (["AAPL", "JPM", "XOM"], ["Technology", "Financials", "Energy"]),
        (["AAPL", "XOM"], ["Technology", "Energy"]),  # a position closed: the other columns come from memory
        (["AAPL", "JPM", "XOM", "ZZZ"], ["Technology", "Financials", "Energy", "unknown"]),
    ]
    for symbols, sectors in books:
        full = StressTable.build(scenarios, symbols, sectors)
        fast = _stress_from_columns(scenarios, symbols, sectors)
        assert fast.names == full.names
        assert fast.shocks.tobytes() == full.shocks.tobytes()
        assert fast.shocks.shape == full.shocks.shape
        assert fast.shocks.flags.c_contiguous
