"""4 Alerts: severity, action, time, acknowledgement; ``/`` filter, ``a`` acknowledge, enter for details.

The table is virtual and newest-first over the store's list itself (no copy), so 100,000 alerts scroll as
fast as ten. While the cursor sits below the newest row, new alerts do not move it off the alert it is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType

from runtime.payloads import ControlRequest
from screens.format import SEVERITY_GLYPHS, SEVERITY_WORDS, short_stamp, shorten
from screens.messages import AlertRaised, BusMessage, CommandAnswered, ConnectionChanged, PresenceChanged
from screens.store import AlertRow
from screens.views._base import ControlRequested, Newest, TableView
from screens.widgets.vtable import Cell, Column, VirtualTable


class AlertsView(TableView):
    VIEW_ID = "alerts"
    KEY = "4"
    LABEL = "Alerts"
    HELP = "Every alert since the cockpit connected; filter, acknowledge"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a", "acknowledge", "Ack", id="alerts.ack", tooltip="Acknowledge the alert under the cursor (sent as you)"
        ),
    ]
    COLUMNS = (
        Column("severity", 9, min=7),
        Column("time (UTC)", 15),
        Column("action", 22, min=14),
        Column("ack", 12, min=10),
        Column("message", min=20),
    )
    EMPTY = "no alert since the cockpit connected (events/alert)"

    def on_mount(self) -> None:
        self._styles = {
            "info": self.theme_style("foreground"),
            "warning": self.theme_style("warning"),
            "error": self.theme_style("error"),
            "critical": self.theme_style("error", bold=True),
        }

    def rows(self) -> Sequence[Any]:
        return Newest(self.store.alerts)

    def haystack(self, row: Any) -> str:
        assert isinstance(row, AlertRow)
        return row.haystack()

    def render_row(self, row: Any) -> Sequence[Cell]:
        assert isinstance(row, AlertRow)
        sev = Text(f"{SEVERITY_GLYPHS[row.severity]} {SEVERITY_WORDS[row.severity]}", style=self._styles[row.severity])
        if row.acked_by:
            ack = f"✓ {row.acked_by}"
        elif row.needs_ack:
            ack = "☐ TO ACK"
        else:
            ack = "·"
        return (sev, short_stamp(row.ts), row.action, ack, shorten(row.message, 300))

    def note(self) -> str:
        waiting = self.store.waiting_alerts()
        total = len(self.store.alerts)
        shown = len(self.shown)
        text = f"{total:,} alert(s), {waiting:,} waiting for an acknowledgement"
        if self.needle:
            text += f" · {shown:,} match {self.needle!r}"
        return text

    @on(AlertRaised)
    def _raised(self, message: AlertRaised) -> None:
        table = self.table
        if not self.needle and table.cursor > 0:
            table.cursor += message.count  # stay on the alert the operator is reading
        self.sync_soon()

    @on(CommandAnswered)
    @on(ConnectionChanged)
    @on(PresenceChanged)
    def _changed(self, message: BusMessage) -> None:
        self.sync()
        self.refresh_bindings()

    @on(VirtualTable.Highlighted)
    def _moved(self, event: VirtualTable.Highlighted) -> None:
        self.refresh_bindings()

    def selected(self) -> AlertRow | None:
        row = self.table.current
        return row if isinstance(row, AlertRow) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "acknowledge":
            row = self.selected()
            if row is None or not row.waiting:
                return None
            return self.controllable()
        return True

    def action_acknowledge(self) -> None:
        row = self.selected()
        if row is None or not row.waiting:
            self.notify("this alert does not wait for an acknowledgement", severity="warning")
            return
        self.post_message(ControlRequested("ack", ControlRequest(args={"alert_id": row.id})))
