"""The cockpit application: keys, the bus reader worker, control actions through modals, the command log.

It is a client of the bus and nothing else: it reads (one reader, typed messages) and sends control
requests under the operator's name; it never owns trading state. ``app.cockpit`` composes it with a bus
(and, on the embedded default, with a runtime started in the same process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType

from runtime.bus import Bus
from runtime.clock import Clock, WallClock
from runtime.payloads import ControlRequest
from screens.control import VERBS, Commander
from screens.forms import BacktestSpec, ResumeContext, ResumeForm
from screens.keys import KeyRow, key_rows
from screens.main import VIEWS, MainScreen
from screens.messages import BusMessage, CommandAnswered, ConnectionChanged, PresenceChanged, StateChanged
from screens.modals.backtest import BacktestModal
from screens.modals.confirm import ConfirmModal, Dialog, KillModal
from screens.modals.detail import BacktestResultScreen, HelpScreen, IncidentScreen, Pushed, TraceScreen
from screens.modals.resume import ResumeModal
from screens.palette import CockpitCommands, PaletteCommand
from screens.reader import BusReader
from screens.settings import CockpitSettings
from screens.store import CommandEntry, Store
from screens.views._base import ControlRequested, TableView
from screens.views.alerts import AlertsView
from screens.views.audit import OpenTrace
from screens.views.backtests import OpenBacktest
from screens.views.incidents import OpenIncident
from screens.widgets.vtable import VirtualTable

CONTROL_ACTIONS = frozenset({"pause", "resume", "run_once", "kill", "backtest", "acknowledge"})
# What each view asks the runtime for when shown (read-only verbs; an unknown one degrades to a note).
VIEW_READS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "portfolio": (("orders", {"limit": 200}),),
    "audit": (("audit", {"verify": True, "tail": 0}),),
    "backtests": (("backtests", {}),),
    "incidents": (("incidents", {"limit": 100}),),
}


def _view_binding(view: type[Any]) -> Binding:
    return Binding(
        view.KEY,
        f"view('{view.VIEW_ID}')",
        view.LABEL,
        show=not view.KEY.isdigit(),
        id=f"view.{view.VIEW_ID}",
        tooltip=view.HELP,
    )


class CockpitBase(App[None]):
    """The cockpit on ``bus`` as ``operator``.

    Args:
        bus: The cockpit's own bus client (started by the reader, closed by whoever created it).
        env: The environment (shown, and the word that confirms the kill switch).
        operator: Who acts: the topic segment of every control request.
        read_only: Every control is inactive.
        clock: Injected clock (tests and snapshots use a fixed one): ages, the command log, "since".
        settings: ``COCKPIT_*`` settings.
        embedded: The runtime runs in this process (the status line says so: quitting stops it).
        bus_display: The bus URL without its password.
        blink: Input cursors blink (snapshots turn it off).
        keymap: A user keymap (binding id -> keys), already validated.
        notes: Things to tell the operator once at start (keymap problems...).
    """

    TITLE = "AgentHedge cockpit"
    CSS_PATH = str(Path(__file__).parent / "cockpit.tcss")
    COMMANDS = {CockpitCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(_view_binding(v) for v in VIEWS),
        Binding("p", "pause", "Pause", id="control.pause", tooltip="Pause trading: no new ticks (as you)"),
        Binding("R", "resume", "Resume", id="control.resume", tooltip="Resume; from HALTED with a signed-off form"),
        Binding("o", "run_once", "Once", id="control.run_once", tooltip="Run one tick now (asks first)"),
        Binding("K", "kill", "KILL", id="control.kill", tooltip="Kill switch: HALT and cancel orders (typed confirm)"),
        Binding("b", "backtest", "Backtest", id="control.backtest", tooltip="Launch a backtest (form)"),
        Binding("r", "refresh", "Refresh", show=False, id="app.refresh", tooltip="Ask the runtime again"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key, from the bindings"),
        Binding("ctrl+p,colon", "command_palette", "Commands", show=False, id="app.palette", tooltip="Command palette"),
        Binding("escape", "go_back", "Back", show=False, id="app.back", tooltip="Close the filter, else previous view"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (a daemon trades on; an in-process runtime stops)"),
    ]

    def __init__(
        self,
        bus: Bus,
        *,
        env: str,
        operator: str,
        read_only: bool = False,
        clock: Clock | None = None,
        settings: CockpitSettings | None = None,
        embedded: bool = False,
        bus_display: str = "",
        blink: bool = True,
        keymap: dict[str, str] | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.bus = bus
        self.clock: Clock = clock or WallClock()
        self.settings = settings or CockpitSettings()
        self.store = Store(
            env=env, operator=operator, read_only=read_only, bus=bus_display or bus.url, embedded=embedded
        )
        self.commander = Commander(bus, operator, self.clock, timeout=self.settings.request_timeout)
        self.reader = BusReader(bus, self.clock, self.post_message)
        self.blink = blink
        self.user_keymap = dict(keymap or {})
        self.notes = list(notes)
        self._runs_seen: set[str] = set()
        self._main: MainScreen | None = None
        self.theme = self.settings.theme

    # -- composition ----------------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        self._main = MainScreen(self.store, self.clock, stale_after=self.settings.stale_after)
        return self._main

    @property
    def main(self) -> MainScreen:
        assert self._main is not None, "the main screen is made when the app starts"
        return self._main

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        for note in self.notes:
            self.notify(note, title="keymap", severity="warning", timeout=15)
        self.run_worker(self.reader.run(), name="bus-reader", group="bus", exclusive=True)
        self.set_interval(1.0, self._second, name="ages")

    def _second(self) -> None:
        if self._main is not None and self._main.is_mounted:
            self._main.tick()

    # -- what arrives -------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """The UI is up (not starting, not shutting down): widgets may be touched."""
        return not self._closing and bool(self.screen_stack) and self._main is not None

    @on(BusMessage)
    def _fold(self, message: BusMessage) -> None:
        message.apply(self.store)
        if isinstance(message, PresenceChanged) and message.presence.online:
            run = message.presence.run_id or message.presence.client_id
            if run not in self._runs_seen:  # a runtime (re)started: ask it what the bus does not carry
                self._runs_seen.add(run)
                self.read("status")
                self.read("nav_history", {"limit": 500})
                self.read("alerts")  # those still waiting for an acknowledgement, raised before we connected
                self._read_view(self._main.current if self._main is not None else "overview")
        if not self.alive:
            return
        self.main.deliver(message)
        if isinstance(message, ConnectionChanged | PresenceChanged | StateChanged | CommandAnswered):
            self.refresh_bindings()

    # -- control ------------------------------------------------------------------------------------
    def read(self, verb: str, args: dict[str, Any] | None = None) -> None:
        """Ask the runtime something (a read: allowed in read-only mode, never in the command log)."""
        if self.store.connection.state == "connected" and self.store.runtime_online:
            self.run_worker(self._send(verb, ControlRequest(args=args or {}), None), group="reads")

    def send(self, verb: str, request: ControlRequest, *, after: Callable[[CommandEntry], None] | None = None) -> None:
        """Send an operator action, unless controls are off; the answer goes to the command log."""
        spec = VERBS.get(verb)
        if not self.store.controllable:
            self.notify(f"{verb}: controls are off ({self.store.controls_off_reason})", severity="warning")
            return
        if spec is not None and spec.changes_state:
            if self.store.busy is not None:
                self.notify(f"{verb}: still waiting for the answer to {self.store.busy}", severity="warning")
                return
            self.store.busy = verb
            self.refresh_bindings()
        self.run_worker(self._send(verb, request, after), group="control")

    async def _send(self, verb: str, request: ControlRequest, after: Callable[[CommandEntry], None] | None) -> None:
        try:
            entry = await self.commander.send(verb, request)
        finally:
            if self.store.busy == verb:
                self.store.busy = None
        self.post_message(CommandAnswered(entry))
        if not self.alive:
            return
        self._tell(entry)
        if after is not None:
            after(entry)

    def _tell(self, entry: CommandEntry) -> None:
        spec = VERBS.get(entry.verb)
        if spec is not None and not spec.logged:
            return  # routine reads: a view says what is missing
        if entry.ok:
            self.notify(entry.answer, title=entry.verb)
        elif entry.ok is False:
            self.notify(f"REFUSED: {entry.answer}", title=entry.verb, severity="error", timeout=15)
        else:
            self.notify(entry.answer, title=f"{entry.verb}: no answer", severity="warning", timeout=15)

    @on(ControlRequested)
    def _requested(self, message: ControlRequested) -> None:
        self.send(message.verb, message.request)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        store = self.store
        if action in CONTROL_ACTIONS:
            if not store.controllable or store.busy is not None:
                return None
            state = store.state_name
            if action == "pause" and state not in ("RUNNING", "REDUCING", "DEGRADED"):
                return None
            if action == "resume" and state in (None, "RUNNING"):
                return None
            if action == "kill" and state == "HALTED":
                return None
            if action == "acknowledge":
                alerts = self.query(AlertsView)
                return alerts.first().check_action("acknowledge", ()) if alerts else None
            return True
        if action == "filter":
            return True if self._main is not None and isinstance(self._main.view, TableView) else None
        return True

    # -- actions ------------------------------------------------------------------------------------
    def action_view(self, view_id: str) -> None:
        self.main.show(view_id)
        self._read_view(view_id)

    def _read_view(self, view_id: str) -> None:
        for verb, args in VIEW_READS.get(view_id, ()):
            self.read(verb, args)

    def action_go_back(self) -> None:
        self.main.back()

    def action_refresh(self) -> None:
        self.read("status")
        self.read("alerts")
        self._read_view(self.main.current)

    def action_filter(self) -> None:
        view = self.main.view
        if isinstance(view, TableView):
            view.action_filter()

    def action_acknowledge(self) -> None:
        self.action_view("alerts")
        self.query_one(AlertsView).action_acknowledge()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_rows(), self.notes))

    def action_pause(self) -> None:
        self.send("pause", ControlRequest(reason=f"operator pause from the cockpit ({self.store.operator})"))

    def action_resume(self) -> None:
        incident = self.store.open_incident or {}
        ctx = ResumeContext(
            operator=self.store.operator,
            state=self.store.state_name or "?",
            incident_id=str(incident.get("id") or ""),
            approvers_needed=self.store.resume_approvers,
        )
        self._resume(ctx)

    def _resume(self, ctx: ResumeContext) -> None:
        def submitted(form: ResumeForm | None) -> None:
            if form is None:
                return

            def answered(entry: CommandEntry) -> None:
                if entry.ok is False:  # back into the form, with the runtime's reason
                    needed = 2 if "second approver" in entry.answer else ctx.approvers_needed
                    again = replace(
                        ctx,
                        reason=form.reason,
                        incident_id=form.incident_id,
                        approver=form.approver,
                        refusal=entry.answer,
                        approvers_needed=needed,
                    )
                    self._resume(again)

            self.send("resume", form.request(), after=answered)

        self.push_screen(ResumeModal(ctx, blink=self.blink), submitted)  # type: ignore[arg-type]

    def action_run_once(self) -> None:
        def confirmed(yes: object) -> None:
            if yes:
                self.send("run_once", ControlRequest(reason="run once from the cockpit"))

        body = "Run one tick of the whole pipeline now, outside the schedule.\nIt may send orders."
        self.push_screen(ConfirmModal("Run one tick now?", body, "Run once", blink=self.blink), confirmed)

    def action_kill(self) -> None:
        def confirmed(reason: object) -> None:
            if isinstance(reason, str) and reason:
                self.send("kill", ControlRequest(reason=reason))

        self.push_screen(KillModal(self.store.env, self.store.operator, blink=self.blink), confirmed)

    def action_backtest(self) -> None:
        def launched(spec: object) -> None:
            if not isinstance(spec, BacktestSpec):
                return

            def answered(entry: CommandEntry) -> None:
                run_id = entry.data.get("run_id")
                if entry.ok and isinstance(run_id, str):
                    run = self.store.backtest(run_id)
                    run.spec = {k: v for k, v in spec.request().args.items()}
                    self.action_view("backtests")
                elif entry.ok is None or entry.answer.startswith("unknown command"):
                    self.notify(f"No backtest runner answered: {entry.answer}", severity="error", timeout=15)

            self.send("backtest", spec.request(), after=answered)

        self.push_screen(BacktestModal(self.clock.now().date(), blink=self.blink), launched)

    # -- pushed screens -----------------------------------------------------------------------------
    @on(OpenTrace)
    def _open_trace(self, message: OpenTrace) -> None:
        line = message.line.event.model_dump(mode="json")
        args = message.args
        if args is None:
            self.push_screen(TraceScreen("", [], line=line))
            return
        what = " ".join(f"{k} {v}" for k, v in args.items())

        async def fetch() -> None:
            entry = await self.commander.send("trace", ControlRequest(args={**args, "limit": 50}))
            self.post_message(CommandAnswered(entry))
            records = entry.data.get("records") if entry.ok else None
            if isinstance(records, list):
                self.push_screen(TraceScreen(what, [r for r in records if isinstance(r, dict)], line=line))
            else:
                problem = f"the runtime gave no trace: {entry.answer}"
                self.push_screen(TraceScreen(what, [], problem=problem, line=line))

        self.run_worker(fetch(), group="reads")

    @on(OpenIncident)
    def _open_incident(self, message: OpenIncident) -> None:
        incident = message.incident
        if "snapshot" in incident or not self.store.runtime_online:
            self.push_screen(IncidentScreen(incident))
            return

        async def fetch() -> None:
            entry = await self.commander.send("incidents", ControlRequest(args={"id": incident.get("id")}))
            found = entry.data.get("incidents") if entry.ok else None
            same = [i for i in found or [] if isinstance(i, dict) and i.get("id") == incident.get("id")]
            self.push_screen(IncidentScreen(same[0] if same else incident))

        self.run_worker(fetch(), group="reads")

    @on(OpenBacktest)
    def _open_backtest(self, message: OpenBacktest) -> None:
        self.push_screen(BacktestResultScreen(self.store.backtest(message.run_id)))

    # -- keys, palette ------------------------------------------------------------------------------
    @classmethod
    def binding_scopes(cls) -> list[tuple[str, Iterable[BindingType]]]:
        """Every binding, by where it applies: the help screen and the README table come from here."""
        scopes: list[tuple[str, Iterable[BindingType]]] = [("everywhere", cls.BINDINGS)]
        scopes.append(("tables", TableView.BINDINGS))
        scopes.append(("alerts view", AlertsView.BINDINGS))
        scopes.append(("tables", VirtualTable.BINDINGS))
        scopes.append(("dialogs", Dialog.BINDINGS))
        scopes.append(("pushed screens", Pushed.BINDINGS))
        return scopes

    def key_rows(self) -> list[KeyRow]:
        return key_rows(self.binding_scopes(), self.user_keymap)

    def palette_commands(self) -> list[PaletteCommand]:
        keys = {row.id: row.keys for row in self.key_rows()}
        items: list[tuple[str, str, str, str]] = []  # (title, help, action, binding id)
        for b in Binding.make_bindings(self.BINDINGS):
            if b.action not in ("command_palette", "go_back"):
                items.append((b.description, b.tooltip, b.action, b.id or ""))
        items.append(("Acknowledge", "Acknowledge the alert under the cursor", "acknowledge", "alerts.ack"))
        items.append(("Filter", "Filter the rows of the current table", "filter", "view.filter"))
        commands = []
        for title, help_text, action, binding_id in items:
            name = action.split("(")[0]
            off = ""
            if not self.check_action(name, ()):
                off = self.store.controls_off_reason if name in CONTROL_ACTIONS else ""
                off = off or ("busy" if self.store.busy else "not here")
            commands.append(PaletteCommand(title, help_text, action, keys.get(binding_id, ""), off))
        return commands
