"""2 Agents: each agent's status, heartbeat age, version, last tick duration and errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import on

from screens.format import AGENT_GLYPHS, age, ms, shorten, since
from screens.messages import BusMessage, HeartbeatUpdated
from screens.store import AgentRow
from screens.views._base import TableView
from screens.widgets.vtable import Cell, Column

STALE_AFTER = 30.0  # seconds: a heartbeat older than this is flagged (heartbeats come every 5 s)


class AgentsView(TableView):
    VIEW_ID = "agents"
    KEY = "2"
    LABEL = "Agents"
    HELP = "Each agent: status, heartbeat age, version, last tick, errors"
    COLUMNS = (
        Column("agent", 14, min=10),
        Column("stage", 11, min=8),
        Column("status", 9),
        Column("beat", 8, "right", min=6),
        Column("version", 8, min=6),
        Column("last tick", 9, "right", min=7),
        Column("err", 4, "right", min=3),
        Column("detail"),
    )
    EMPTY = "no heartbeat yet (state/agents/<name>, retained)"

    def rows(self) -> Sequence[Any]:
        return [self.store.agents[name] for name in sorted(self.store.agents)]

    def haystack(self, row: Any) -> str:
        hb = row.heartbeat
        return f"{hb.name} {hb.stage} {hb.status} {hb.version} {hb.detail}".lower()

    def render_row(self, row: Any) -> Sequence[Cell]:
        assert isinstance(row, AgentRow)
        hb = row.heartbeat
        beat = since(self.clock.now(), row.seen)
        old = beat is not None and beat > STALE_AFTER and hb.status not in ("stopped", "offline")
        return (
            hb.name,
            hb.stage,
            f"{AGENT_GLYPHS.get(hb.status, '?')} {hb.status}",
            age(beat) + (" OLD" if old else ""),
            hb.version,
            ms(hb.last_tick_ms),
            str(hb.errors),
            shorten(hb.detail, 200),
        )

    @on(HeartbeatUpdated)
    def _beat(self, message: BusMessage) -> None:
        self.sync()
