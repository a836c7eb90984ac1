"""What is always on screen: the status line, the state banner and the view tabs.

Each reads the :class:`~screens.store.Store` and an injected clock; colours come from CSS classes
(``-halted``, ``-disconnected``, ...) and every state is also written as a word with a glyph.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Static

from runtime.clock import Clock
from screens.format import CONNECTION_GLYPHS, age, clock_time, shorten, since, stamp, state_glyph, state_label
from screens.messages import BusMessage, CommandAnswered, ConnectionChanged, PresenceChanged, StateChanged
from screens.store import Store

SHORT = {"overview": "Overv", "portfolio": "Portf", "backtests": "Tests", "incidents": "Incid"}


class StatusBar(Horizontal):
    """Runtime state; connection (connected / reconnecting n / disconnected since), data age and, when it is
    not online, the runtime's presence; environment and operator; READ-ONLY or CONTROLS OFF."""

    DEFAULT_CSS = """
    StatusBar { height: 1; }
    StatusBar > Label { width: auto; padding: 0 1; }
    StatusBar > #sb-connection { width: 1fr; }
    """

    def __init__(self, store: Store, clock: Clock, *, stale_after: float = 30.0) -> None:
        super().__init__(id="status-bar")
        self.store = store
        self.clock = clock
        self.stale_after = stale_after

    def compose(self) -> ComposeResult:
        yield Label(id="sb-state", markup=False)
        yield Label(id="sb-connection", markup=False)
        yield Label(id="sb-who", markup=False)
        yield Label(id="sb-controls", markup=False)

    def on_mount(self) -> None:
        self._shown: dict[str, tuple[str, str, bool]] = {}
        self.sync()

    @on(BusMessage)
    def _changed(self, message: BusMessage) -> None:
        self.sync()

    def _set(self, part: str, text: str, classes: str, show: bool = True) -> None:
        """Update one part only when it changed (a class change restyles the widget: not for nothing)."""
        if self._shown.get(part) == (text, classes, show):
            return
        self._shown[part] = (text, classes, show)
        label = self.query_one(f"#sb-{part}", Label)
        label.update(text, layout=part != "connection")  # the connection part is 1fr wide: no layout
        label.set_classes(classes)
        label.display = show

    def data_age(self) -> tuple[str, bool]:
        """The age of the newest message and whether it is stale."""
        seconds = since(self.clock.now(), self.store.last_rx)
        stale = seconds is None or seconds > self.stale_after
        return age(seconds), stale

    def sync(self) -> None:
        store = self.store
        state = store.state_name
        self._set("state", state_label(state), f"-{(state or 'unknown').lower()}")
        conn = store.connection
        text = f"{CONNECTION_GLYPHS.get(conn.state, '?')} {conn.label}"
        if conn.state != "connected":
            text += f" since {clock_time(conn.since)}"
        shown, stale = self.data_age()
        text += f" · data {shown}" + (" STALE" if stale and store.last_rx is not None else "")
        runtime = ""
        if conn.state == "connected" and store.presence is None:
            runtime = " · runtime unseen"
        elif store.presence is not None and not store.presence.online:
            runtime = " · runtime ○ OFFLINE"
        self._set(
            "connection",
            text + runtime,
            f"-{conn.state}" + (" -stale" if stale else "") + (" -offline" if runtime else ""),
        )
        where = " · in-process" if store.embedded else ""
        self._set("who", f"{store.env}{where} · {store.operator}", "")
        reason = store.controls_off_reason
        controls = "READ-ONLY" if store.read_only else ("CONTROLS OFF" if reason else "")
        self._set("controls", controls, "-off", bool(reason))


class Banner(Static):
    """The state banner: the kill switch (reason, incident, since when), a pause, degraded or reducing mode."""

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(id="banner", markup=False)
        self.store = store
        self.clock = clock
        self._text = ""

    def on_mount(self) -> None:
        self.sync()

    @on(StateChanged)
    @on(CommandAnswered)
    @on(ConnectionChanged)
    @on(PresenceChanged)
    def _changed(self, message: BusMessage) -> None:
        self.sync()

    def sync(self) -> None:
        state = self.store.state
        name = state.state if state else None
        if state is None or name == "RUNNING":
            self.display = False
            return
        self.display = True
        kind = f"-{(name or 'unknown').lower()}"
        if not self.has_class(kind):
            self.set_classes(kind)
        ago = age(since(self.clock.now(), state.since))
        same_day = stamp(state.since)[:10] == stamp(self.clock.now())[:10]
        when = f"since {clock_time(state.since) if same_day else stamp(state.since)} ({ago} ago)"
        glyph = state_glyph(name)
        if name == "HALTED":
            incident = self.store.open_incident
            inc = (incident or {}).get("id") or state.incident_id or "none recorded"
            lines = [
                f"{glyph} KILL SWITCH · HALTED {when} · {inc}",
                f"reason: {shorten(state.reason, 200)} · by {state.actor} · R: resume with sign-off",
            ]
        elif name == "PAUSED":
            lines = [f"{glyph} PAUSED {when} by {state.actor}: {shorten(state.reason, 120)} · R: resume"]
        elif name == "DEGRADED":
            lines = [f"{glyph} DEGRADED {when}: {shorten(state.reason, 120)} — trading skipped · R: resume"]
        elif name == "REDUCING":
            lines = [f"{glyph} REDUCING {when}: {shorten(state.reason, 120)} — only exposure-reducing orders"]
        else:
            lines = [f"{glyph} {name} {when}: {shorten(state.reason, 120)}"]
        text = "\n".join(lines)
        if text != self._text:
            self._text = text
            self.update(text)


class NavBar(Static):
    """The views on number keys; the current one in brackets (not only highlighted)."""

    def __init__(self, store: Store, views: Sequence[tuple[str, str, str]]) -> None:
        super().__init__(id="nav-bar")
        self.store = store
        self.views = list(views)  # (key, view id, label)
        self.current = views[0][1] if views else ""
        self._plain = ""

    def on_mount(self) -> None:
        self.sync()

    @on(BusMessage)
    def _changed(self, message: BusMessage) -> None:
        self.sync()

    def select(self, view: str) -> None:
        self.current = view
        self.sync()

    def sync(self) -> None:
        waiting = self.store.waiting_alerts()
        open_incident = 1 if self.store.open_incident else 0
        for short in (False, True):
            line = Text(no_wrap=True, overflow="ellipsis")
            for key, view, label in self.views:
                name = SHORT.get(view, label) if short else label
                text = f"{key} {name}"
                if view == "alerts" and waiting:
                    text += f"({waiting})"
                if view == "incidents" and open_incident:
                    text += "(!)"
                if view == self.current:
                    line.append(f"[{text}]", style="bold reverse")
                else:
                    line.append(f" {text} ")
            if line.cell_len <= (self.size.width or 80):
                break
        if line.plain != self._plain:
            self._plain = line.plain
            self.update(line, layout=False)

    def on_resize(self) -> None:
        self._plain = ""
        self.sync()
