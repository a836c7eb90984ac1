"""l Command log: every control action this cockpit sent — who, when, what, the answer (lazygit's log)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import on

from screens.control import VERBS
from screens.format import short_stamp, shorten
from screens.messages import BusMessage, CommandAnswered
from screens.store import CommandEntry
from screens.views._base import Newest, TableView
from screens.widgets.vtable import Cell, Column


class CommandLogView(TableView):
    VIEW_ID = "commands"
    KEY = "l"
    LABEL = "Log"
    HELP = "Every control action sent from this cockpit: who, when, what, the answer"
    COLUMNS = (
        Column("time (UTC)", 15),
        Column("operator", 10, min=8),
        Column("verb", 9, min=8),
        Column("result", 11),
        Column("request", 24, min=12),
        Column("answer", min=16),
    )
    EMPTY = "no control action sent from this cockpit yet"

    def rows(self) -> Sequence[Any]:
        return Newest([c for c in self.store.commands if VERBS.get(c.verb) is None or VERBS[c.verb].logged])

    def haystack(self, row: Any) -> str:
        assert isinstance(row, CommandEntry)
        return f"{row.operator} {row.verb} {row.result} {row.what} {row.answer}".lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        assert isinstance(row, CommandEntry)
        return (short_stamp(row.ts), row.operator, row.verb, row.result, row.what or "—", shorten(row.answer, 300))

    @on(CommandAnswered)
    def _answered(self, message: BusMessage) -> None:
        self.sync()
