"""7 Incidents: open and closed, from the ``incidents`` verb (else the open one the state names); enter opens
the forensic snapshot and the sign-offs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from textual import on
from textual.message import Message

from screens.format import short_stamp, shorten
from screens.messages import BusMessage, CommandAnswered, StateChanged
from screens.views._base import TableView
from screens.widgets.vtable import Cell, Column, VirtualTable


def short_time(value: Any) -> str:
    """An ISO time from a reply as ``05-02 14:15:00Z`` (UTC); the text itself if it does not parse."""
    if isinstance(value, datetime):
        return short_stamp(value)
    try:
        return short_stamp(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value or "—")


class OpenIncident(Message):
    def __init__(self, incident: dict[str, Any]) -> None:
        super().__init__()
        self.incident = incident


class IncidentsView(TableView):
    VIEW_ID = "incidents"
    KEY = "7"
    LABEL = "Incidents"
    HELP = "Open and closed incidents; enter opens the forensic snapshot and sign-offs"
    COLUMNS = (
        Column("incident", 26, min=24),
        Column("status", 8),
        Column("opened (UTC)", 15),
        Column("source", 22, min=10),
        Column("closed by", 10, min=4),
        Column("reason", min=8),
    )
    EMPTY = "no incident"

    def rows(self) -> Sequence[Any]:
        incidents = self.store.incidents
        if incidents is not None:
            return sorted(incidents, key=lambda i: str(i.get("opened_at", "")), reverse=True)
        current = self.store.open_incident
        return [dict(current, status="open")] if current else []

    def haystack(self, row: Any) -> str:
        return " ".join(str(row.get(k, "")) for k in ("id", "status", "source", "reason", "closed_by")).lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        status = str(row.get("status", "?"))
        return (
            str(row.get("id", "?")),
            "● OPEN" if status == "open" else "○ closed",
            short_time(row.get("opened_at")),
            str(row.get("source", "")),
            str(row.get("closed_by") or ""),
            shorten(str(row.get("reason", "")), 300),
        )

    def note(self) -> str:
        if self.store.incidents is None:
            why = self.store.unsupported.get("incidents")
            return (
                "closed incidents, forensic snapshots and sign-offs need the `incidents` control verb"
                if why
                else "asking the runtime for the incident history…"
            )
        return ""

    @on(StateChanged)
    @on(CommandAnswered)
    def _changed(self, message: BusMessage) -> None:
        self.sync()

    @on(VirtualTable.Selected)
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        row = self.table.current
        if isinstance(row, dict):
            self.post_message(OpenIncident(row))
