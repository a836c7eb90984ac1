"""5 Audit and decision trace: the audit log tail (live copy of ``events/audit``) with the chain status.

Enter on a line that belongs to a tick asks the runtime for that tick's decision trace (the ``trace`` verb,
the records ``agenthedge trace`` prints: directive, votes and weights, verdicts, orders, fills, why no
trade), narrowed to the line's symbol when it names one; any other line opens as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from screens.format import short_stamp, summary
from screens.messages import AuditAppended, BusMessage, CommandAnswered
from screens.store import AuditLine
from screens.views._base import Newest, TableView
from screens.widgets.vtable import Cell, Column, VirtualTable


def trace_args(line: AuditLine) -> dict[str, Any] | None:
    """The ``trace`` verb's arguments for an audit line: its tick (and symbol), or None if it has no tick."""
    data = line.event.data
    tick = line.tick_id or data.get("tick_id")
    if not isinstance(tick, str) or not tick:
        return None
    args: dict[str, Any] = {"tick_id": tick}
    symbol = data.get("symbol")
    if isinstance(symbol, str) and symbol:
        args["symbol"] = symbol
    return args


class OpenTrace(Message):
    """The operator picked an audit line: show its decision trace (or the line itself)."""

    def __init__(self, line: AuditLine, args: dict[str, Any] | None) -> None:
        super().__init__()
        self.line = line
        self.args = args


class AuditView(TableView):
    VIEW_ID = "audit"
    KEY = "5"
    LABEL = "Audit"
    HELP = "Audit log tail with the hash-chain status; enter opens the decision trace of a tick"
    COLUMNS = (
        Column("seq", 7, "right", min=5),
        Column("time (UTC)", 15),
        Column("actor", 12, min=8),
        Column("event", 22, min=16),
        Column("data", min=20),
    )
    EMPTY = "no audit line since the cockpit connected (events/audit)"

    def compose_header(self) -> ComposeResult:
        yield Static(id="audit-chain", markup=False)

    def rows(self) -> Sequence[Any]:
        return Newest(self.store.audit)

    def haystack(self, row: Any) -> str:
        assert isinstance(row, AuditLine)
        e = row.event
        return f"{e.seq} {e.event} {e.actor} {row.tick_id or ''} {json.dumps(e.data, default=str)}".lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        assert isinstance(row, AuditLine)
        e = row.event
        mark = "◆ " if trace_args(row) else ""
        return (str(e.seq), short_stamp(e.ts), e.actor, e.event, mark + summary(e.data, 300))

    def sync(self) -> None:
        super().sync()
        chain = self.store.chain
        text = chain.text
        if chain.verified is None and "audit" in self.store.unsupported:
            text += " · verification needs the `audit` control verb"
        self.query_one("#audit-chain", Static).update(text + " · ◆ enter: decision trace")

    @on(AuditAppended)
    def _appended(self, message: AuditAppended) -> None:
        table = self.table
        if not self.needle and table.cursor > 0:
            table.cursor += message.count
        self.sync_soon()

    @on(CommandAnswered)
    def _answered(self, message: BusMessage) -> None:
        self.sync()

    @on(VirtualTable.Selected)
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        row = self.table.current
        if isinstance(row, AuditLine):
            self.post_message(OpenTrace(row, trace_args(row)))
