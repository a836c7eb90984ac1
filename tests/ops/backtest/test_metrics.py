"""Metrics against hand-computed series, and against numpy one-liners on random series."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.backtest.metrics import (
    METRIC_KEYS,
    MetricInputs,
    avg_exposure,
    cagr,
    calmar,
    compute_metrics,
    daily_rate,
    daily_returns,
    drawdowns,
    historical_var,
    hit_rate,
    max_drawdown,
    max_drawdown_days,
    profit_factor,
    sharpe,
    sortino,
    total_return,
    turnover,
    var_usage,
    volatility,
)

# initial 100, then +10%, -10%, +20%: NAV 110, 99, 118.8 on three dates a year and a day apart in all
INITIAL = 100.0
NAV = [110.0, 99.0, 118.8]
DATES = [date(2020, 1, 1), date(2020, 7, 1), date(2021, 1, 1)]
R = [0.1, -0.1, 0.2]
MEAN = (0.1 - 0.1 + 0.2) / 3
SD = math.sqrt(((0.1 - MEAN) ** 2 + (-0.1 - MEAN) ** 2 + (0.2 - MEAN) ** 2) / 2)
DOWNSIDE = math.sqrt((0.0 + 0.01 + 0.0) / 3)


def test_daily_returns_start_from_the_initial_capital() -> None:
    assert daily_returns(INITIAL, NAV).tolist() == pytest.approx(R)
    assert daily_returns(INITIAL, []).size == 0


def test_total_return_and_cagr_by_hand() -> None:
    assert total_return(INITIAL, 118.8) == pytest.approx(0.188)
    years = 366 / 365.25  # 2020 is a leap year
    assert cagr(INITIAL, 118.8, DATES[0], DATES[-1]) == pytest.approx(1.188 ** (1 / years) - 1)
    assert cagr(INITIAL, 118.8, DATES[0], DATES[0]) is None  # zero span: undefined
    assert cagr(INITIAL, 0.0, DATES[0], DATES[-1]) is None  # ruin: undefined, not -100%/yr made up


def test_volatility_sharpe_sortino_by_hand() -> None:
    r = np.array(R)
    assert volatility(r) == pytest.approx(SD * math.sqrt(252))
    assert sharpe(r) == pytest.approx(MEAN / SD * math.sqrt(252))
    assert sortino(r) == pytest.approx(MEAN / DOWNSIDE * math.sqrt(252))


def test_the_risk_free_rate_is_taken_off_each_session() -> None:
    r = np.array(R)
    rf = daily_rate(0.05, 252)
    assert (1 + rf) ** 252 == pytest.approx(1.05)
    assert sharpe(r, 0.05) == pytest.approx((MEAN - rf) / SD * math.sqrt(252))
    below = [min(x - rf, 0.0) ** 2 for x in R]
    assert sortino(r, 0.05) == pytest.approx((MEAN - rf) / math.sqrt(sum(below) / 3) * math.sqrt(252))


def test_undefined_ratios_are_none_not_made_up() -> None:
    flat = np.array([0.01, 0.01, 0.01])
    assert sharpe(flat) is None  # no variance
    assert sortino(flat) is None  # no losing session
    assert volatility(np.array([0.01])) is None
    assert sharpe(np.array([0.01])) is None


def test_drawdown_from_the_running_peak_including_the_initial_capital() -> None:
    assert drawdowns(INITIAL, NAV).tolist() == pytest.approx([0.0, 0.1, 0.0])
    assert max_drawdown(INITIAL, NAV) == pytest.approx(0.1)
    assert drawdowns(100.0, [90.0]).tolist() == pytest.approx([0.1])  # a loss on day one is a drawdown
    assert max_drawdown(100.0, [101.0, 102.0]) == 0.0


def test_max_drawdown_days_peak_to_recovery() -> None:
    # peak 110 on 2020-01-01, under water on 2020-07-01, recovered on 2021-01-01: 366 days
    assert max_drawdown_days(DATES, INITIAL, NAV) == 366
    # never recovered: counts to the last session
    d = [date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 20)]
    assert max_drawdown_days(d, 100.0, [105.0, 100.0, 104.0]) == 19
    # two episodes: the longer one wins; an exact return to the peak is a recovery
    d = [date(2024, 1, 1) + timedelta(days=k) for k in range(6)]
    assert max_drawdown_days(d, 100.0, [100.0, 99.0, 100.0, 98.0, 97.0, 100.0]) == 3
    assert max_drawdown_days(d, 100.0, [101.0, 102.0, 103.0, 104.0, 105.0, 106.0]) == 0
    assert max_drawdown_days([], 100.0, []) == 0


def test_calmar_turnover_exposure() -> None:
    growth = cagr(INITIAL, 118.8, DATES[0], DATES[-1])
    assert calmar(growth, 0.1) == pytest.approx(growth / 0.1)  # type: ignore[operator]
    assert calmar(growth, 0.0) is None
    years = 366 / 365.25
    assert turnover(200.0, NAV, DATES[0], DATES[-1]) == pytest.approx(200.0 / (sum(NAV) / 3) / years)
    assert turnover(200.0, NAV, DATES[0], DATES[0]) is None
    assert avg_exposure([55.0, 0.0, 59.4], NAV) == pytest.approx((0.5 + 0.0 + 0.5) / 3)
    assert avg_exposure([-55.0], [110.0]) == pytest.approx(0.5)  # gross: shorts count


def test_hit_rate_and_profit_factor_over_closed_round_trips() -> None:
    pnls = [100.0, -50.0, 30.0, -10.0, 0.0]
    assert hit_rate(pnls) == pytest.approx(2 / 5)  # a flat trip is not a win
    assert profit_factor(pnls) == pytest.approx(130.0 / 60.0)
    assert hit_rate([]) is None
    assert profit_factor([10.0, 20.0]) is None  # no loss: infinite, reported as undefined
    assert profit_factor([]) is None


def test_historical_var_by_hand_and_usage() -> None:
    rets = np.array([-0.05, -0.04] + [0.01] * 18 + [0.02])
    var = historical_var(rets, confidence=0.95, window=250)
    assert np.isnan(var[:19]).all()  # fewer than 20 returns behind: no VaR
    # 5% linear quantile of 20 returns sits 0.95 of the way from -0.05 to -0.04
    assert var[19] == pytest.approx(0.0405)
    assert var_usage(var, 0.04) == pytest.approx(max(var[19], var[20]) / 0.04)
    gains = np.full(30, 0.01)
    assert historical_var(gains)[-1] == 0.0  # the 5% quantile is a gain: no loss at risk
    assert var_usage([None, 0.01, 0.03], 0.04) == pytest.approx(0.75)
    assert var_usage([None, None], 0.04) is None


def test_compute_metrics_has_exactly_the_issue_keys() -> None:
    m = compute_metrics(
        MetricInputs(
            initial_capital=INITIAL,
            dates=DATES,
            nav=NAV,
            gross_exposure=[55.0, 0.0, 59.4],
            traded_notional=200.0,
            closed_pnls=[10.0, -5.0],
            round_trips=3,
            var_nav=[0.01, None, 0.02],
            var_limit=0.04,
            breaches={"limit:var": 1},
            rejects={"risk:max_position": 2},
        )
    )
    out = m.to_json()
    assert tuple(out) == METRIC_KEYS
    assert out["final_equity"] == 118.8
    assert out["trades"] == 3
    assert out["var_usage"] == pytest.approx(0.5)  # the risk agent's VaR wins over the fallback
    assert out["max_drawdown"] == pytest.approx(0.1)
    assert out["hit_rate"] == 0.5
    assert out["profit_factor"] == 2.0
    assert out["breaches"] == {"limit:var": 1}
    assert out["rejects"] == {"risk:max_position": 2}


def test_compute_metrics_falls_back_to_historical_var_without_risk_records() -> None:
    nav = list(100.0 * np.cumprod(1 + np.array([-0.05, -0.04] + [0.01] * 18)))
    dates = [date(2024, 1, 1) + timedelta(days=k) for k in range(20)]
    m = compute_metrics(MetricInputs(100.0, dates, nav, [0.0] * 20, 0.0, [], 0, var_nav=None, var_limit=0.04))
    assert m.var_usage == pytest.approx(0.0405 / 0.04)


def test_an_empty_run_is_all_undefined_but_final_equity() -> None:
    m = compute_metrics(MetricInputs(1000.0, [], [], [], 0.0, [], 0))
    assert m.final_equity == 1000.0
    assert m.total_return == 0.0
    assert m.cagr is None
    assert m.sharpe is None
    assert m.var_usage is None
    assert m.max_drawdown == 0.0
    assert m.max_drawdown_days == 0


navs = st.lists(st.floats(min_value=1.0, max_value=1e7, allow_nan=False), min_size=3, max_size=80)


@settings(max_examples=200, deadline=None)
@given(initial=st.floats(min_value=1.0, max_value=1e7), nav=navs)
def test_cross_check_with_numpy_one_liners(initial: float, nav: list[float]) -> None:
    full = np.array([initial, *nav])
    r = np.diff(full) / full[:-1]
    assert max_drawdown(initial, nav) == pytest.approx(np.max(1 - full / np.maximum.accumulate(full)), abs=1e-12)
    sd = np.std(r, ddof=1)
    got = sharpe(daily_returns(initial, nav))
    if sd > 0:
        assert got == pytest.approx(np.mean(r) / sd * np.sqrt(252), rel=1e-9, abs=1e-9)
    else:
        assert got is None
    down = np.sqrt(np.mean(np.minimum(r, 0) ** 2))
    got_sortino = sortino(daily_returns(initial, nav))
    if down > 0:
        assert got_sortino == pytest.approx(np.mean(r) / down * np.sqrt(252), rel=1e-9, abs=1e-9)
    else:
        assert got_sortino is None
