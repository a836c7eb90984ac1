"""Charts: the equity curve with its drawdown (textual-plotext), and labelled sparklines."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from screens.format import compact_money, pct


def drawdowns(values: Sequence[float]) -> list[float]:
    """Drawdown from the running peak at each point, as a fraction (0 at a new high, negative below)."""
    out = []
    peak = float("-inf")
    for v in values:
        peak = max(peak, v)
        out.append(v / peak - 1 if peak > 0 else 0.0)
    return out


class Chart(PlotextPlot):
    """A plot drawn from scratch on every render: its output depends on its data and size only (plotext keeps
    state between builds, which made the same data render differently after a resize)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.draw: Callable[[Plot, int, int], None] | None = None

    def render(self) -> RenderResult:
        self.plt.clear_figure()
        if self.draw is not None:
            self.draw(self.plt, self.size.width, self.size.height)
        return super().render()


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
        yield Chart(id="equity-plot")
        yield Chart(id="drawdown-plot")

    def on_mount(self) -> None:
        self._draw()

    def set_points(self, points: Sequence[tuple[str, float]]) -> None:
        new = list(points)
        if new != self.points:
            self.points = new
            self._draw()

    def _draw(self) -> None:
        empty = self.query_one(".chart-empty", Static)
        equity = self.query_one("#equity-plot", Chart)
        drawdown = self.query_one("#drawdown-plot", Chart)
        enough = len(self.points) >= 2
        empty.display = not enough
        equity.display = drawdown.display = enough
        if not enough:
            return
        labels = [label for label, _ in self.points]
        values = [v for _, v in self.points]
        xs = [float(i) for i in range(1, len(values) + 1)]
        dd = [d * 100 for d in drawdowns(values)]
        span = f"{labels[0][:10]}..{labels[-1][:10]}"
        title = self.title

        # Only as many y ticks as there are rows for: plotext picks among ticks that share a row in an order
        # that varies between processes, which would make the same data draw differently.
        def draw_equity(plt: Plot, width: int, height: int) -> None:
            plt.plot(xs, values, marker="braille")
            head = f"{title} {compact_money(values[-1])} (peak {compact_money(max(values))})"
            plt.title(f"{head} {span}" if len(head) + len(span) + 1 <= width - 12 else head)  # plotext drops a long one
            plt.xticks([], [])  # the span is in the title: plotext's tick placement varies between processes
            low, high = min(values), max(values)
            rows = height - 3  # title, frame top and bottom
            levels = [low, (low + high) / 2, high] if rows >= 5 and high > low else [low, high] if rows >= 2 else [high]
            plt.yticks(levels, [compact_money(v) for v in levels])

        def draw_drawdown(plt: Plot, width: int, height: int) -> None:
            plt.plot(xs, dd, marker="braille", fillx=True)
            plt.title(f"drawdown {pct(dd[-1] / 100)} (max {pct(min(dd) / 100)})")
            plt.xticks([], [])
            deepest = min(dd)
            if deepest < 0 and height - 3 >= 2:
                plt.yticks([deepest, 0.0], [f"{deepest:.1f}%", "0%"])
            else:
                plt.yticks([deepest], [f"{deepest:.1f}%"])

        equity.draw = draw_equity
        drawdown.draw = draw_drawdown
        equity.refresh()
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
