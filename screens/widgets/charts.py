"""Charts: the equity curve with its drawdown (textual-plotext), and labelled sparklines."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static
from textual_plotext import PlotextPlot

from screens.format import compact_money, pct


def drawdowns(values: Sequence[float]) -> list[float]:
    """Drawdown from the running peak at each point, as a fraction (0 at a new high, negative below)."""
    out = []
    peak = float("-inf")
    for v in values:
        peak = max(peak, v)
        out.append(v / peak - 1 if peak > 0 else 0.0)
    return out


def _ticks(labels: Sequence[str], slots: int) -> tuple[list[float], list[str]]:
    """At most ``slots`` evenly spaced x ticks, labelled with the point labels (dates)."""
    n = len(labels)
    if n == 0:
        return [], []
    slots = max(1, min(slots, n))
    idx = sorted({round(i * (n - 1) / max(1, slots - 1)) for i in range(slots)})
    return [float(i + 1) for i in idx], [labels[i][:10] for i in idx]


class EquityChart(Vertical):
    """NAV over time above its drawdown. Fewer than two points: a line saying what it waits for."""

    DEFAULT_CSS = """
    EquityChart { height: 1fr; }
    EquityChart > #equity-plot { height: 2fr; }
    EquityChart > #drawdown-plot { height: 1fr; min-height: 4; }
    EquityChart > .chart-empty { height: 1fr; color: $text-muted; text-style: italic; padding: 1 2; }
    """

    def __init__(self, *, title: str = "NAV", waiting: str = "waiting for NAV points", id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.waiting = waiting
        self.points: list[tuple[str, float]] = []

    def compose(self) -> ComposeResult:
        yield Static(self.waiting, classes="chart-empty")
        yield PlotextPlot(id="equity-plot")
        yield PlotextPlot(id="drawdown-plot")

    def on_mount(self) -> None:
        self._draw()

    def set_points(self, points: Sequence[tuple[str, float]]) -> None:
        new = list(points)
        if new != self.points:
            self.points = new
            self._draw()

    def _draw(self) -> None:
        empty = self.query_one(".chart-empty", Static)
        equity = self.query_one("#equity-plot", PlotextPlot)
        drawdown = self.query_one("#drawdown-plot", PlotextPlot)
        enough = len(self.points) >= 2
        empty.display = not enough
        equity.display = drawdown.display = enough
        if not enough:
            return
        labels = [label for label, _ in self.points]
        values = [v for _, v in self.points]
        xs = list(range(1, len(values) + 1))
        dd = [d * 100 for d in drawdowns(values)]
        ticks, names = _ticks(labels, 3)
        plt = equity.plt
        plt.clear_figure()
        plt.plot(xs, values, marker="braille")
        plt.title(f"{self.title} {compact_money(values[-1])} (peak {compact_money(max(values))})")
        plt.xticks(ticks, names)
        low, high = min(values), max(values)
        levels = [low, (low + high) / 2, high] if high > low else [low]
        plt.yticks(levels, [compact_money(v) for v in levels])
        equity.refresh()
        plt = drawdown.plt
        plt.clear_figure()
        plt.plot(xs, dd, marker="braille", fillx=True)
        plt.title(f"drawdown {pct(dd[-1] / 100)} (max {pct(min(dd) / 100)})")
        plt.xticks([], [])
        deepest = min(dd)
        plt.yticks([deepest, 0.0] if deepest < 0 else [0.0], [f"{deepest:.1f}%", "0%"] if deepest < 0 else ["0%"])
        drawdown.refresh()


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(data: Sequence[float], width: int) -> str:
    """The last ``width`` values as eighth-block bars scaled from zero to the maximum (all zero: flat)."""
    values = list(data)[-width:] if width > 0 else []
    top = max(values, default=0.0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(7, max(0, round(v / top * 7)))] for v in values)


class LabelledSpark(Horizontal):
    """``tick ▁▂▅▂▁ last 12.0ms max 40.0ms``: the shape, and the numbers in words."""

    DEFAULT_CSS = """
    LabelledSpark { height: 1; }
    LabelledSpark > .spark-name { width: 10; }
    LabelledSpark > .spark-bars { width: 1fr; height: 1; }
    LabelledSpark > .spark-figures { width: auto; padding-left: 1; }
    """

    def __init__(self, name: str, unit: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = name
        self.unit = unit
        self.data: list[float] = []

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="spark-name", markup=False)
        yield Static("", classes="spark-bars", markup=False)
        yield Label("no data", classes="spark-figures", markup=False)

    def on_resize(self) -> None:
        self._draw()

    def set_data(self, data: Sequence[float]) -> None:
        self.data = list(data)
        self._draw()

    def _draw(self) -> None:
        bars = self.query_one(".spark-bars", Static)
        figures = self.query_one(".spark-figures", Label)
        if not self.data:
            bars.update("")
            figures.update("no data")
            return
        bars.update(sparkline(self.data, bars.size.width or 40), layout=False)
        figures.update(f"last {self.data[-1]:,.1f}{self.unit} max {max(self.data):,.1f}{self.unit}")
