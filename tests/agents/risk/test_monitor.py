"""The loss breakers count losses only, against the previous session's close; stop-losses per position."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from agents.risk import Exposure, RiskSettings, monitor, session_closes
from storage.records import NavPoint

S = RiskSettings()
TODAY = "2024-03-15"
PREV = "2024-03-14"


def book(nav: float, positions: dict[str, tuple[float, float, float]] | None = None) -> Exposure:
    """A book worth ``nav``: positions ``symbol -> (qty, avg_cost, price)``, the rest cash."""
    positions = positions or {}
    symbols = sorted(positions)
    qty = np.array([positions[s][0] for s in symbols], dtype=np.float64)
    avg = np.array([positions[s][1] for s in symbols], dtype=np.float64)
    price = np.array([positions[s][2] for s in symbols], dtype=np.float64)
    cash = nav - float((qty * price).sum())
    return Exposure(
        symbols, {s: j for j, s in enumerate(symbols)}, qty, price, avg, ["x"] * len(symbols), cash, frozenset(symbols)
    )


def test_a_5pct_gain_does_not_trip_the_daily_loss_stop() -> None:
    report = monitor(book(1_050_000), {PREV: 1_000_000}, TODAY, S)
    assert report.daily_return == pytest.approx(0.05)
    assert not report.daily_pause
    assert not report.daily_kill


def test_a_big_gain_after_an_intraday_high_is_still_a_gain() -> None:
    """The original bug compared tick to tick with abs(): 1.10M -> 1.05M looked like a -4.5% 'day'."""
    closes = {PREV: 1_000_000, TODAY: 1_100_000}  # an earlier tick of today recorded 1.10M
    report = monitor(book(1_050_000), closes, TODAY, S)
    assert report.prev_session == PREV
    assert report.daily_return == pytest.approx(0.05)
    assert not report.daily_pause
    assert not report.daily_kill


def test_a_2_1pct_loss_pauses_but_does_not_kill() -> None:
    report = monitor(book(979_000), {PREV: 1_000_000}, TODAY, S)
    assert report.daily_return == pytest.approx(-0.021)
    assert report.daily_pause
    assert not report.daily_kill


def test_a_1_9pct_loss_does_nothing() -> None:
    report = monitor(book(981_000), {PREV: 1_000_000}, TODAY, S)
    assert not report.daily_pause
    assert not report.daily_kill


def test_a_5_1pct_loss_kills() -> None:
    report = monitor(book(949_000), {PREV: 1_000_000}, TODAY, S)
    assert report.daily_pause
    assert report.daily_kill


def test_the_first_session_is_measured_from_the_funding() -> None:
    report = monitor(book(975_000), {}, TODAY, S, initial_capital=1_000_000)
    assert report.prev_session is None
    assert report.prev_close == 1_000_000
    assert report.daily_pause


def test_without_any_base_there_is_no_daily_return() -> None:
    report = monitor(book(975_000), {}, TODAY, S)
    assert report.daily_return is None
    assert not report.daily_pause


def _history(peak_at: int, peak: float, rest: float, n: int = 40) -> dict[str, float]:
    """``n`` daily closes before TODAY, all ``rest`` except ``peak`` ``peak_at`` sessions ago."""
    days = [f"2024-01-{d:02d}" for d in range(1, 32)] + [f"2024-02-{d:02d}" for d in range(1, 29)]
    chosen = days[-n:]
    return {d: (peak if i == n - peak_at else rest) for i, d in enumerate(chosen)}


def test_a_10_8pct_drawdown_from_the_30_session_peak_breaches() -> None:
    report = monitor(book(1_070_000), _history(5, 1_200_000, 1_100_000), TODAY, S)
    assert report.peak == 1_200_000
    assert report.drawdown == pytest.approx(-0.10833, abs=1e-4)
    assert report.drawdown_breach


def test_a_9pct_drawdown_does_not() -> None:
    report = monitor(book(1_092_000), _history(5, 1_200_000, 1_100_000), TODAY, S)
    assert not report.drawdown_breach


def test_a_peak_older_than_the_window_is_forgotten() -> None:
    report = monitor(book(1_070_000), _history(35, 1_200_000, 1_100_000), TODAY, S)
    assert report.peak == 1_100_000
    assert not report.drawdown_breach


def test_stop_loss_fires_at_8pct_below_average_cost_for_longs_and_shorts() -> None:
    positions = {
        "LONGHIT": (100.0, 100.0, 91.0),
        "LONGOK": (100.0, 100.0, 93.0),
        "SHORTHIT": (-100.0, 100.0, 109.0),
        "SHORTOK": (-100.0, 100.0, 90.0),  # a short in profit
        "WINNER": (100.0, 100.0, 150.0),
    }
    report = monitor(book(1_000_000, positions), {PREV: 1_000_000}, TODAY, S)
    assert [h.symbol for h in report.stop_losses] == ["LONGHIT", "SHORTHIT"]
    assert report.stop_losses[0].loss == pytest.approx(-0.09)
    assert report.stop_losses[1].loss == pytest.approx(-0.09)
    assert "-9.00% from its average cost" in report.stop_losses[0].describe()


def test_session_closes_take_the_last_point_of_each_session() -> None:
    ts = datetime(2024, 3, 14, 15, tzinfo=UTC)
    points = [
        NavPoint(ts, "2024-03-14", 100.0, 0, 0, 0),
        NavPoint(ts.replace(hour=20), "2024-03-14", 101.0, 0, 0, 0),
        NavPoint(ts.replace(day=15), "2024-03-15", 99.0, 0, 0, 0),
    ]
    assert session_closes(points) == {"2024-03-14": 101.0, "2024-03-15": 99.0}
