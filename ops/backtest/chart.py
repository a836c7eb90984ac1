"""The equity-and-drawdown chart of a run, as a self-contained SVG (no plotting library).

Two panels on one time axis: NAV (top, a line, the initial capital dashed) and drawdown from the running
peak (bottom, a filled area down from 0%), each with a labelled y axis and gridlines, dates along the
bottom. Deterministic: the same series give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 960, 560
LEFT, RIGHT = 92, 24
TOP_Y, TOP_H = 62, 290
BOTTOM_Y, BOTTOM_H = 396, 120
FONT = "font-family='Helvetica, Arial, sans-serif'"
INK, GRID, LINE, FILL = "#222", "#ddd", "#1f5fa8", "#c0392b"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) * 0.01 or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _money(value: float) -> str:
    a = abs(value)
    if a >= 1e9:
        return f"{value / 1e9:.4g}B"
    if a >= 1e6:
        return f"{value / 1e6:.4g}M"
    if a >= 1e3:
        return f"{value / 1e3:.4g}k"
    return f"{value:.4g}"


def _pct_label(value: float) -> str:
    """A drawdown tick as a loss: ``0%``, ``-5%``, ``-0.25%`` (two decimals at most, trailing zeros dropped)."""
    if value == 0:
        return "0%"
    return "-" + f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _date_ticks(first: date, last: date) -> list[date]:
    span = (last - first).days
    if span > 3 * 365:
        step = max(1, math.ceil(span / 365 / 8))
        return [date(y, 1, 1) for y in range(first.year + 1, last.year + 1, step)]
    months = [date(y, m, 1) for y in range(first.year, last.year + 1) for m in range(1, 13)]
    months = [d for d in months if first < d <= last]
    step = max(1, math.ceil(len(months) / 8))
    return months[::step] or [first]


def _date_label(d: date, span_days: int) -> str:
    return str(d.year) if span_days > 3 * 365 else d.strftime("%Y-%m")


def _polyline(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def equity_drawdown_svg(
    dates: Sequence[date],
    nav: Sequence[float],
    drawdown: Sequence[float],
    *,
    initial: float,
    title: str = "Equity and drawdown",
) -> str:
    """The chart as SVG text. ``drawdown`` is a positive fraction per session (0.1 = 10% below the peak)."""
    if len(dates) != len(nav) or len(nav) != len(drawdown):
        raise ValueError("dates, nav and drawdown must have the same length")
    plot_w = WIDTH - LEFT - RIGHT
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{escape(title)}'>",
        f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>",
        f"<text x='{LEFT}' y='28' {FONT} font-size='16' font-weight='bold' fill='{INK}'>{escape(title)}</text>",
    ]
    if not dates:
        out.append(f"<text x='{LEFT}' y='{TOP_Y + 40}' {FONT} font-size='13' fill='{INK}'>no sessions</text></svg>")
        return "\n".join(out) + "\n"
    first, last = dates[0], dates[-1]
    span = max((last - first).days, 1)

    def x_of(d: date) -> float:
        return LEFT + plot_w * (d - first).days / span

    values = [*nav, initial]
    eq_ticks = nice_ticks(min(values), max(values))
    lo, hi = eq_ticks[0], eq_ticks[-1]

    def y_eq(v: float) -> float:
        return TOP_Y + TOP_H - TOP_H * (v - lo) / (hi - lo if hi > lo else 1.0)

    dd_ticks = nice_ticks(0.0, max(float(max(drawdown)), 0.01))
    dd_hi = dd_ticks[-1]

    def y_dd(v: float) -> float:
        return BOTTOM_Y + BOTTOM_H * v / dd_hi

    # panels, gridlines and y labels
    for y0, h in ((TOP_Y, TOP_H), (BOTTOM_Y, BOTTOM_H)):
        out.append(f"<rect x='{LEFT}' y='{y0}' width='{plot_w}' height='{h}' fill='none' stroke='{INK}'/>")
    for t in eq_ticks:
        y = y_eq(t)
        out.append(f"<line x1='{LEFT}' y1='{y:.1f}' x2='{LEFT + plot_w}' y2='{y:.1f}' stroke='{GRID}'/>")
        out.append(
            f"<text x='{LEFT - 6}' y='{y + 4:.1f}' {FONT} font-size='11' text-anchor='end' fill='{INK}'>"
            f"{_money(t)}</text>"
        )
    for t in dd_ticks:
        y = y_dd(t)
        out.append(f"<line x1='{LEFT}' y1='{y:.1f}' x2='{LEFT + plot_w}' y2='{y:.1f}' stroke='{GRID}'/>")
        out.append(
            f"<text x='{LEFT - 6}' y='{y + 4:.1f}' {FONT} font-size='11' text-anchor='end' fill='{INK}'>"
            f"{_pct_label(t)}</text>"
        )
    for d in _date_ticks(first, last):
        x = x_of(d)
        for y0, h in ((TOP_Y, TOP_H), (BOTTOM_Y, BOTTOM_H)):
            out.append(f"<line x1='{x:.1f}' y1='{y0}' x2='{x:.1f}' y2='{y0 + h}' stroke='{GRID}'/>")
        out.append(
            f"<text x='{x:.1f}' y='{BOTTOM_Y + BOTTOM_H + 18}' {FONT} font-size='11' text-anchor='middle' "
            f"fill='{INK}'>{_date_label(d, span)}</text>"
        )
    # axis titles
    for label, y0, h in (("NAV", TOP_Y, TOP_H), ("Drawdown", BOTTOM_Y, BOTTOM_H)):
        cy = y0 + h / 2
        out.append(
            f"<text x='18' y='{cy:.1f}' {FONT} font-size='12' fill='{INK}' text-anchor='middle' "
            f"transform='rotate(-90 18 {cy:.1f})'>{label}</text>"
        )
    # the initial capital, the equity line, the drawdown area
    y_cap = y_eq(initial)
    out.append(
        f"<line x1='{LEFT}' y1='{y_cap:.1f}' x2='{LEFT + plot_w}' y2='{y_cap:.1f}' "
        "stroke='#888' stroke-dasharray='4 3'/>"
    )
    eq = [(x_of(d), y_eq(v)) for d, v in zip(dates, nav, strict=True)]
    out.append(f"<polyline fill='none' stroke='{LINE}' stroke-width='1.4' points='{_polyline(eq)}'/>")
    dd = [(x_of(d), y_dd(v)) for d, v in zip(dates, drawdown, strict=True)]
    area = [(eq[0][0], float(BOTTOM_Y)), *dd, (eq[-1][0], float(BOTTOM_Y))]
    out.append(f"<polygon fill='{FILL}' fill-opacity='0.35' stroke='{FILL}' points='{_polyline(area)}'/>")
    out.append(
        f"<text x='{LEFT}' y='48' {FONT} font-size='12' fill='#555'>"
        f"{first.isoformat()} .. {last.isoformat()}   initial {_money(initial)}   final {_money(nav[-1])}   "
        f"max drawdown {max(drawdown):.2%}</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
