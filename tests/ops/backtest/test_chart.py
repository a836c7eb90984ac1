"""The SVG chart: well-formed, two labelled panels, deterministic."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from ops.backtest.chart import equity_drawdown_svg, nice_ticks

NS = {"s": "http://www.w3.org/2000/svg"}


def series(n: int) -> tuple[list[date], list[float], list[float]]:
    dates = [date(2020, 1, 1) + timedelta(days=7 * k) for k in range(n)]
    nav = [1e6 * (1 + 0.001 * k) - (20_000 if 10 <= k < 20 else 0) for k in range(n)]
    peak, dd = 1e6, []
    for v in nav:
        peak = max(peak, v)
        dd.append(1 - v / peak)
    return dates, nav, dd


def test_two_panels_with_axes_labels_and_lines() -> None:
    dates, nav, dd = series(200)
    svg = equity_drawdown_svg(dates, nav, dd, initial=1e6, title="AAPL & co <sma>")
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iterfind(".//s:text", NS)]
    assert "AAPL & co <sma>" in texts  # escaped in the file, intact once parsed
    assert "NAV" in texts
    assert "Drawdown" in texts
    assert "0%" in texts
    assert any(t.startswith("-") and t.endswith("%") for t in texts)
    assert any(t.endswith("M") for t in texts)  # money ticks
    assert {"2021", "2022", "2023"} <= set(texts)  # yearly date ticks over ~4 years
    (line,) = root.iterfind(".//s:polyline", NS)
    assert len(line.attrib["points"].split()) == 200
    (area,) = root.iterfind(".//s:polygon", NS)
    assert len(area.attrib["points"].split()) == 202


def test_deterministic_and_empty_runs_still_draw() -> None:
    dates, nav, dd = series(50)
    assert equity_drawdown_svg(dates, nav, dd, initial=1e6) == equity_drawdown_svg(dates, nav, dd, initial=1e6)
    empty = ET.fromstring(equity_drawdown_svg([], [], [], initial=1e6))
    assert "no sessions" in [t.text for t in empty.iterfind(".//s:text", NS)]
    one = ET.fromstring(equity_drawdown_svg([date(2024, 1, 2)], [1e6], [0.0], initial=1e6))
    assert one.find(".//s:polyline", NS) is not None
    with pytest.raises(ValueError, match="same length"):
        equity_drawdown_svg(dates, nav[:-1], dd, initial=1e6)


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(980_000, 1_042_646) == [980_000, 1_000_000, 1_020_000, 1_040_000, 1_060_000]
    assert nice_ticks(0.0, 0.0123) == [0.0, 0.005, 0.01, 0.015]
    flat = nice_ticks(5.0, 5.0)
    assert flat[0] <= 5.0 <= flat[-1]
    assert len(flat) >= 2
