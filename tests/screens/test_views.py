"""Views, navigation, filter, help, keymap, palette, pushed screens, the reader's robustness, big tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from textual.command import CommandPalette
from textual.widgets import Static

from runtime import topics
from runtime.bus import ConnectionStatus
from runtime.messages import Envelope, make
from runtime.payloads import Alert, ControlReply, ControlRequest
from screens import CockpitBase
from screens.keys import key_rows
from screens.messages import AlertRaised
from screens.modals.detail import BacktestResultScreen, HelpScreen, IncidentScreen, TraceScreen
from screens.views._base import TableView
from screens.views.alerts import AlertsView
from screens.widgets.vtable import Cell, VirtualTable
from tests.screens.harness import cockpit, make_app, quiet, until
from tests.screens.scenarios import INCIDENT, NOW, RUN


def text_of(widget: Static) -> str:
    return str(widget.render())


async def test_number_keys_switch_views_and_escape_goes_back() -> None:
    async with cockpit("nominal") as (app, pilot, _world):
        for key, view in zip(
            "2345671", ("agents", "portfolio", "alerts", "audit", "backtests", "incidents", "overview"), strict=False
        ):
            await pilot.press(key)
            assert app.main.current == view, key
        await pilot.press("l")
        assert app.main.current == "commands"
        await pilot.press("escape")
        assert app.main.current == "overview"
        await pilot.press("escape")
        assert app.main.current == "incidents"


async def test_views_ask_the_runtime_for_what_the_bus_does_not_carry() -> None:
    async with cockpit("halted") as (app, pilot, _world):
        await pilot.press("3")
        await until(pilot, lambda: app.store.open_orders is not None, "the open orders")
        orders = app.main.view.query_one("#orders-table", VirtualTable)
        assert [o["client_order_id"] for o in orders.rows] == ["AH-20240502-0004", "AH-20240502-0005"]
        await pilot.press("7")
        await until(pilot, lambda: app.store.incidents is not None, "the incidents")
        table = app.main.view.query_one(VirtualTable)
        assert next(r["id"] for r in table.rows) == INCIDENT  # newest first, the open one
        await pilot.press("5")
        await until(pilot, lambda: "audit" in app.store.unsupported, "the audit verb's refusal")
        assert "needs the `audit` control verb" in text_of(app.main.view.query_one("#audit-chain", Static))


async def test_filter_narrows_the_alerts_and_escape_clears_it() -> None:
    async with cockpit("halted") as (app, pilot, _world):
        await pilot.press("4", "slash")
        await pilot.press(*"tsla")
        view = app.main.view
        assert isinstance(view, AlertsView)
        assert [r.id for r in view.table.rows] == ["al-0002"]
        assert "1 match 'tsla'" in text_of(view.query_one("#alerts-note", Static))
        await pilot.press("q")  # typed into the filter, not quit
        assert app.is_running
        assert view.needle == "tslaq"
        await pilot.press("escape")
        assert view.needle == ""
        assert len(view.table.rows) == 3
        assert app.main.current == "alerts"


async def test_help_is_generated_from_the_bindings_and_follows_the_keymap() -> None:
    url = "memory://help"
    app = make_app(url, keymap={"control.kill": "ctrl+k"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        ids = {row.id for row in screen.rows}
        assert {"control.pause", "control.resume", "control.kill", "alerts.ack", "view.filter", "app.palette"} <= ids
        kill = next(row for row in screen.rows if row.id == "control.kill")
        assert kill.keys == "ctrl+k"
        await pilot.press("escape")
        assert app.screen is app.main


async def test_a_remapped_key_replaces_the_default(tmp_path: Path) -> None:
    from app.cockpit import Cockpit
    from screens.keys import known_ids, load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\n"control.kill" = "ctrl+k"\n"no.such" = "x"\n"control.pause" = "ctrl+b"\n')
    keymap, problems = load_keymap(path, known_ids(Cockpit.binding_scopes()))
    assert keymap == {"control.kill": "ctrl+k"}
    assert any("no.such" in p for p in problems)
    assert any("ctrl+b" in p for p in problems)
    async with cockpit("nominal") as (app, pilot, _world):
        app.set_keymap(keymap)
        await pilot.press("K")
        assert app.screen is app.main
        await pilot.press("ctrl+k")
        assert app.screen is not app.main


async def test_the_palette_offers_every_action_and_says_why_one_is_off() -> None:
    async with cockpit("nominal", read_only=True) as (app, pilot, _world):
        commands = {c.action: c for c in app.palette_commands()}
        for action in ("pause", "resume", "run_once", "kill", "backtest", "help", "quit", "acknowledge", "filter"):
            assert action in commands, action
        assert commands["kill"].off == "read-only"
        assert commands["help"].off == ""
        assert all(f"view('{v}')" in commands for v in ("overview", "agents", "alerts", "commands"))
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"alerts", "enter")
        await until(pilot, lambda: app.main.current == "alerts", "the alerts view from the palette")


async def test_incident_detail_shows_signoffs_and_the_forensic_snapshot() -> None:
    async with cockpit("halted") as (app, pilot, _world):
        await pilot.press("7")
        await until(pilot, lambda: app.store.incidents is not None, "the incidents")
        await pilot.press("down", "enter")  # the closed one, whose reply carries its snapshot
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "the incident screen")
        lines = "\n".join(app.screen.lines) if isinstance(app.screen, IncidentScreen) else ""
        assert "✖ refused: operator 'carol' is not on the roster" in lines
        assert "bob: orders reviewed with compliance ✓ accepted" in lines
        assert "forensic snapshot:" in lines
        assert "2 position(s)" in lines
        assert "execution: ✓ safe cancelled 3 open order(s)" in lines


async def test_an_incident_without_its_snapshot_is_asked_for_it() -> None:
    snapshot = {"nav": 1_000_000.0, "positions": {}, "still_open": ["AH-1"], "health": {"healthy": False}}
    async with cockpit("halted") as (app, pilot, world):

        def incidents(operator: str, request: ControlRequest) -> ControlReply:
            found = [dict(i) for i in world.scenario.replies["incidents"].data["incidents"]]
            for item in found:
                item.pop("snapshot", None)
                if request.args.get("id") == item["id"]:
                    item["snapshot"] = snapshot
            return ControlReply(ok=True, verb="incidents", message="", data={"incidents": found})

        world.fake.handlers["incidents"] = incidents
        await pilot.press("7")
        await until(pilot, lambda: app.store.incidents is not None, "the incidents")
        await pilot.press("enter")  # the open incident
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "the incident screen")
        lines = "\n".join(app.screen.lines) if isinstance(app.screen, IncidentScreen) else ""
        assert "still open: AH-1" in lines
        asked = [r.args for _, v, r in world.fake.requests if v == "incidents" and r.args.get("id")]
        assert asked == [{"id": INCIDENT}]


async def test_enter_on_an_audit_line_opens_its_decision_trace() -> None:
    record = {
        "tick_id": f"{RUN}:60",
        "session": "2024-05-01",
        "symbol": "AAPL",
        "outcome": "rejected_by_risk",
        "why_no_trade": "risk: single_name 12% > 10%",
        "votes": [{"plugin": "technical", "score": 0.6, "confidence": 0.8, "weight": 0.38, "rationale": "trend"}],
        "intents": [],
    }
    async with cockpit("nominal") as (app, pilot, world):
        world.fake.replies["trace"] = ControlReply(ok=True, verb="trace", message="1", data={"records": [record]})
        await pilot.press("5")
        await pilot.press("down", "enter")  # the newest line is a control command; the next names a tick
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace")
        lines = "\n".join(app.screen.lines) if isinstance(app.screen, TraceScreen) else ""
        assert "REJECTED_BY_RISK" in lines
        assert "vote technical" in lines
        assert "why no trade: risk" in lines
        operator, request = next((op, r) for op, v, r in world.fake.requests if v == "trace")
        assert (operator, request.args["tick_id"], request.args["symbol"]) == ("alice", f"{RUN}:60", "AAPL")


async def test_backtest_launch_progress_and_result() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        world.fake.replies["backtest"] = ControlReply(
            ok=True, verb="backtest", message="queued", data={"run_id": "bt-7"}
        )
        await pilot.press("b")
        form = app.screen
        await pilot.press("ctrl+u", *"aapl, 12x")  # ctrl+u clears the field
        assert "not a ticker: 12X" in text_of(form.query_one("#symbols-problem", Static))
        await pilot.press("ctrl+u", *"aapl, msft")
        assert text_of(form.query_one("#symbols-problem", Static)) == ""
        form.query_one("#confirm").press()  # type: ignore[attr-defined]
        await until(pilot, lambda: app.main.current == "backtests", "the backtests view")
        operator, request = next((op, r) for op, v, r in world.fake.requests if v == "backtest")
        assert operator == "alice"
        assert request.args["symbols"] == ["AAPL", "MSFT"]
        assert request.args["capital"] == 1e6
        for progress, status in ((0.25, "running"), (0.5, "running"), (1.0, "completed")):
            payload = {"run_id": "bt-7", "progress": progress, "status": status}
            if status == "completed":
                payload["metrics"] = {
                    "total_return": 0.081,
                    "sharpe": 1.4,
                    "max_drawdown": -0.05,
                    "equity": [["2023-01-03", 1e6], ["2023-06-30", 1.04e6], ["2023-12-29", 1.081e6]],
                }
            await world.bus.publish("events/backtest", make("backtest.progress", payload, source="backtests"))
        await until(pilot, lambda: app.store.backtests["bt-7"].status == "completed", "the result")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BacktestResultScreen), "the result screen")


async def test_no_backtest_runner_is_said_plainly() -> None:
    async with cockpit("nominal") as (app, pilot, _world):
        await pilot.press("b")
        app.screen.query_one("#confirm").press()  # type: ignore[attr-defined]
        await until(pilot, lambda: "backtest" in app.store.unsupported, "the refusal")
        await pilot.press("6")
        note = text_of(app.main.view.query_one("#backtests-note", Static))
        assert note == "No backtest runner answered: unknown command 'backtest'"


async def test_connection_states_are_words_with_times_from_the_injected_clock() -> None:
    async with cockpit("nominal") as (app, pilot, _world):
        status = app.main.query_one("#sb-connection", Static)
        assert text_of(status).startswith("● connected · data 2s")
        app.reader._on_status(ConnectionStatus("reconnecting", NOW, attempts=3, error="refused"))
        await until(pilot, lambda: "reconnecting 3 since 14:30:00Z" in text_of(status), "reconnecting")
        assert app.check_action("pause", ()) is None
        app.reader._on_status(ConnectionStatus("connected", NOW))
        await until(pilot, lambda: text_of(status).startswith("● connected"), "connected again")
        assert app.check_action("pause", ()) is True


async def test_a_malformed_message_is_skipped_and_the_reader_goes_on() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        # in process nothing is re-validated: a bad payload reaches the reader, which must shrug it off
        bad = Envelope(source="x", type="backtest.progress", payload={"progress": 0.5})
        await world.bus.publish("events/backtest", bad)
        late = Alert(id="al-late", action="risk_alert", severity="info", message="after", source="risk", ts=NOW)
        await world.bus.publish(topics.EVENT_ALERT, make("alert", late, source="risk"))
        await until(pilot, lambda: app.store.alert("al-late") is not None, "the next message")
        assert app.reader.ignored == 1


async def test_a_duplicate_alert_shows_once() -> None:
    async with cockpit("nominal") as (app, pilot, world):
        topic, message = next((t, m) for t, m in world.scenario.events if t == topics.EVENT_ALERT)
        before = len(app.store.alerts)
        await world.bus.publish(topic, message)  # QoS 1 redelivery
        await pilot.pause(0.05)
        assert len(app.store.alerts) == before


async def test_one_hundred_thousand_alerts_scroll_and_filter_without_lag() -> None:
    async with cockpit("nominal", events=False) as (app, pilot, _world):
        for i in range(100_000):
            severity = ("info", "warning", "error", "critical")[i % 4]
            app.store.add_alert(
                Alert(
                    id=f"bulk-{i}",
                    action=f"act_{i % 50}",
                    severity=severity,
                    message=f"alert number {i}",
                    source="bench",
                    ts=NOW - timedelta(seconds=100_000 - i),
                    needs_ack=i % 10 == 0,
                )
            )
        await pilot.press("4")
        view = app.main.view
        assert isinstance(view, AlertsView)
        table = view.table
        assert len(table.rows) == 100_000
        drawn: set[str] = set()
        render_row = table.render_row

        def counted(row: Any) -> Sequence[Cell]:
            drawn.add(row.id)
            return render_row(row)

        table.render_row = counted
        await pilot.press("end", "pageup", "home", "pagedown", "down")
        await pilot.pause()  # the frame after the last key drawn
        assert table.current is not None
        assert table.cursor == table._page + 1
        # Virtual (how fast is the bench's business): no widget per row, and only rows on screen are drawn,
        # at most a screenful for each of the five keys, however many rows there are.
        assert not table.children
        assert 0 < len(drawn) <= 5 * table.size.height, len(drawn)
        await pilot.press("slash", *"number 9999")
        assert not view.pending  # every key filters at once, 100,000 rows or ten: nothing deferred
        expected = {a.id for a in app.store.alerts if "number" in a.haystack() and "9999" in a.haystack()}
        assert {r.id for r in view.table.rows} == expected
        assert len(expected) == 19
        app.post_message(
            AlertRaised(Alert(id="new", action="x", severity="info", message="n", source="s", ts=NOW), NOW)
        )
        await until(pilot, lambda: app.store.alert("new") is not None, "one more")


async def test_table_views_render_every_row_kind() -> None:
    async with cockpit("halted") as (app, pilot, _world):
        for key in "2457l":
            await pilot.press(key)
            view = app.main.view
            assert isinstance(view, TableView)
            for row in view.table.rows:
                cells = view.render_row(row)
                assert len(cells) == len(view.COLUMNS), key


def test_every_binding_has_an_id_and_a_tooltip() -> None:
    from app.cockpit import Cockpit

    rows = key_rows(Cockpit.binding_scopes())
    missing = [r for r in rows if not r.id or not r.tooltip]
    assert missing == []
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids))


def test_envelope_helper_is_deterministic() -> None:
    a = make(
        "alert",
        {"id": "x", "action": "a", "severity": "info", "message": "m", "source": "s", "ts": NOW.isoformat()},
        source="s",
    )
    assert isinstance(a, Envelope)


async def test_a_narrowed_filter_still_sees_rows_that_arrive_meanwhile() -> None:
    def expected(app: CockpitBase, words: list[str]) -> set[str]:
        return {r.id for r in app.store.alerts if all(w in r.haystack() for w in words)}

    async with cockpit("nominal", events=False) as (app, pilot, _world):
        for i in range(6000):  # a growing needle filters only what the shorter one kept
            alert = Alert(id=f"n-{i}", action="a", severity="info", message=f"alert {i}", source="s", ts=NOW)
            app.store.add_alert(alert)
        await pilot.press("4", "slash", *"alert 59")
        await quiet(pilot)
        view = app.main.view
        assert isinstance(view, AlertsView)
        assert {r.id for r in view.table.rows} == expected(app, ["alert", "59"])
        late = Alert(id="late", action="a", severity="info", message="alert 5990599", source="s", ts=NOW)
        app.post_message(AlertRaised(late, NOW))
        await until(pilot, lambda: app.store.alert("late") is not None, "the late alert")
        await quiet(pilot)
        await pilot.press("9")  # the needle grows: 'alert 599'
        await quiet(pilot)
        shown = {r.id for r in view.table.rows}
        assert "late" in shown
        assert shown == expected(app, ["alert", "599"])


async def test_the_footer_keeps_no_removed_key_alive() -> None:
    """Each change of the active bindings recomposes the footer; the keys it removed must not stay bound."""
    from textual.widgets._footer import FooterKey

    from screens.widgets.footer import Footer

    async with cockpit("nominal") as (app, pilot, _world):
        await pilot.press("4")
        footer = app.main.query_one(Footer)
        for _ in range(5):
            for key in ("down", "up"):
                await pilot.press(key)  # the cursor moves: ``a`` turns on or off, the footer recomposes
                await pilot.pause()
        watchers = getattr(footer, "__watchers", {}).get("compact", [])
        assert watchers
        assert all(node.is_attached for node, _ in watchers)
        assert len(watchers) == len(footer.query(FooterKey))
