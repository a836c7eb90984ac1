"""6 Backtests: runs with progress and metrics; ``b`` opens the launch form, enter opens a finished result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import on
from textual.message import Message

from screens.format import bar, compact_money, number, pct
from screens.messages import BacktestProgressed, BusMessage, CommandAnswered
from screens.store import BacktestRun
from screens.views._base import TableView
from screens.widgets.vtable import Cell, Column, VirtualTable

STATUS_GLYPHS = {"submitted": "◌", "running": "▶", "completed": "✓", "failed": "✖", "error": "✖", "cancelled": "○"}


def metric(metrics: dict[str, Any], *names: str) -> float | None:
    for name in names:
        value = number(metrics.get(name))
        if value is not None:
            return value
    return None


class OpenBacktest(Message):
    """The operator picked a run: show its result."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class BacktestsView(TableView):
    VIEW_ID = "backtests"
    KEY = "6"
    LABEL = "Backtests"
    HELP = "Backtest runs: progress, metrics; b launches one, enter opens a result"
    COLUMNS = (
        Column("run", 27, min=12),
        Column("status", 11, min=9),
        Column("progress", 15, min=9),
        Column("symbols", min=6),
        Column("period", 22, min=10),
        Column("capital", 7, "right", min=6),
        Column("return", 7, "right"),
        Column("sharpe", 6, "right", min=5),
        Column("max dd", 7, "right", min=6),
    )
    EMPTY = "no backtest yet: press b to launch one"

    def rows(self) -> Sequence[Any]:
        return list(self.store.backtests.values())[::-1]

    def haystack(self, row: Any) -> str:
        assert isinstance(row, BacktestRun)
        return f"{row.run_id} {row.status} {' '.join(map(str, row.spec.values()))}".lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        assert isinstance(row, BacktestRun)
        spec = row.spec
        symbols = spec.get("symbols") or []
        m = row.metrics
        return (
            row.run_id,
            f"{STATUS_GLYPHS.get(row.status, '?')} {row.status}",
            f"{bar(row.progress, 10)} {row.progress * 100:3.0f}%",
            ",".join(symbols) if isinstance(symbols, list) else str(symbols),
            f"{spec.get('start', '?')}..{spec.get('end', '?')}",
            compact_money(spec.get("capital")),
            pct(metric(m, "total_return", "return"), signed=True, digits=1),
            f"{metric(m, 'sharpe') or 0:.2f}" if metric(m, "sharpe") is not None else "—",
            pct(metric(m, "max_drawdown", "max_dd"), digits=1),
        )

    def note(self) -> str:
        why = self.store.unsupported.get("backtest")
        if why:
            return f"No backtest runner answered: {why}"
        failed = [r for r in self.store.backtests.values() if r.status in ("failed", "error") and r.message]
        return f"✖ {failed[-1].run_id}: {failed[-1].message}" if failed else ""

    @on(BacktestProgressed)
    @on(CommandAnswered)
    def _changed(self, message: BusMessage) -> None:
        self.sync()

    @on(VirtualTable.Selected)
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        row = self.table.current
        if isinstance(row, BacktestRun):
            self.post_message(OpenBacktest(row.run_id))
