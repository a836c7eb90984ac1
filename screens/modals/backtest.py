"""The backtest launch form: symbols, dates, capital, each checked as typed; Launch only when all are right."""

from __future__ import annotations

from datetime import date

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from screens.forms import BacktestSpec, check_backtest
from screens.modals.confirm import Dialog

FIELDS = ("symbols", "start", "end", "capital")


class BacktestModal(Dialog):
    """Dismisses with a :class:`BacktestSpec`, or None when cancelled."""

    AUTO_FOCUS = "#symbols"  # not a dangerous action: start in the first field

    def __init__(
        self,
        today: date,
        *,
        symbols: str = "AAPL, MSFT",
        start: str = "",
        end: str = "",
        capital: str = "1000000",
        blink: bool = True,
    ) -> None:
        super().__init__(blink=blink)
        self.today = today
        self.values = {
            "symbols": symbols,
            "start": start or date(today.year - 1, 1, 2).isoformat(),
            "end": end or date(today.year - 1, 12, 31).isoformat(),
            "capital": capital,
        }

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Launch a backtest"
            yield Static(
                "Runs the live agents on a simulated clock over past sessions (same code path as live).",
                classes="dialog-body",
                markup=False,
            )
            labels = {"symbols": "Symbols", "start": "Start YYYY-MM-DD", "end": "End YYYY-MM-DD", "capital": "Capital"}
            for name in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(labels[name], classes="field-label")
                    yield Input(value=self.values[name], id=name, compact=True)
                yield Static("", id=f"{name}-problem", classes="field-problem", markup=False)
            yield Static("enter: next field · esc: cancel", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Launch", id="confirm", variant="success", compact=True)

    def check(self) -> tuple[BacktestSpec | None, dict[str, str]]:
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        result = check_backtest(**values, today=self.today)
        for name in FIELDS:
            problem = result.problems.get(name, "")
            self.query_one(f"#{name}-problem", Static).update(f"✖ {problem}" if problem else "")
        return result.spec, result.problems

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.check()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        self.focus_next()

    @on(Button.Pressed, "#confirm")
    def _launch(self) -> None:
        spec, _ = self.check()
        if spec is not None:
            self.dismiss(spec)
