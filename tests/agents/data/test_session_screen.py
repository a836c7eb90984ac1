"""The per-session screen of the data agent: whatever the panel holds, every symbol whose bar fails the full
checks is a suspect (so it still goes through them), and sound sessions raise no suspect at all."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.data import Bar
from agents.data._quality import QualityConfig, check_bars
from agents.data.agent import _suspects, _volumes
from agents.market import MarketData

START = date(2024, 1, 1)
FAULTS = ["none"] * 8 + [
    "jump",
    "drop",
    "nan_open",
    "inf_high",
    "negative_volume",
    "zero_low",
    "high_below",
    "low_above",
]


def bar(symbol: str, d: date, close: float, fault: str) -> Bar:
    o, h, lo, c, v = close, close * 1.01, close * 0.99, close, 1e5
    if fault == "jump":
        o, h, lo, c = close * 1.7, close * 1.72, close * 1.69, close * 1.7
    elif fault == "drop":
        o, h, lo, c = close * 0.6, close * 0.61, close * 0.59, close * 0.6
    elif fault == "nan_open":
        o = float("nan")
    elif fault == "inf_high":
        h = float("inf")
    elif fault == "negative_volume":
        v = -5.0
    elif fault == "zero_low":
        lo = 0.0
    elif fault == "high_below":
        h = close * 0.995
    elif fault == "low_above":
        lo = close * 1.005
    return Bar(symbol, d, o, h, lo, c, v)


@st.composite
def panels(draw: st.DrawFn) -> tuple[MarketData, list[date]]:
    n_dates = draw(st.integers(1, 9))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 3, 6, 9]), min_size=n_dates, max_size=n_dates))
    dates = [START + timedelta(days=sum(steps[: i + 1])) for i in range(n_dates)]
    bars: dict[str, list[Bar]] = {}
    for symbol in ("AAA", "BBB", "CCC", "DDD"):
        present = draw(st.lists(st.booleans(), min_size=n_dates, max_size=n_dates))
        closes = draw(st.lists(st.floats(50, 200), min_size=n_dates, max_size=n_dates))
        faults = draw(st.lists(st.sampled_from(FAULTS), min_size=n_dates, max_size=n_dates))
        bars[symbol] = [bar(symbol, d, c, f) for d, p, c, f in zip(dates, present, closes, faults, strict=True) if p]
    return MarketData(bars), dates


@settings(max_examples=300, deadline=None)
@given(panels(), st.integers(0, 8))
def test_every_symbol_the_checks_would_flag_is_a_suspect(found: tuple[MarketData, list[date]], day: int) -> None:
    data, dates = found
    view = data.view(dates[min(day, len(dates) - 1)])
    cfg = QualityConfig()
    suspects = set(_suspects(view, cfg))
    for symbol in view.symbols:
        if not check_bars(symbol, view.bars(symbol, 2), config=cfg).ok:
            assert symbol in suspects


def test_sound_sessions_raise_no_suspect_and_volumes_come_from_the_panel() -> None:
    days = [START + timedelta(days=i) for i in range(10) if (START + timedelta(days=i)).weekday() < 5]
    bars = {
        s: [Bar(s, d, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1e5 + i) for i, d in enumerate(days)]
        for s in ("AAA", "BBB")
    }
    view = MarketData(bars).view(days[-1])
    assert _suspects(view, QualityConfig()) == []
    assert _volumes(view) == {s: bar.volume for s in ("AAA", "BBB") if (bar := view.last(s)) is not None}
