"""The cockpit's pure parts: formatting, forms, keys, the store, the reader's translation, the charts' maths,
the virtual table's column layout. Each rule fires, and its mirror case does not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from textual.message import Message

from runtime import topics
from runtime.bus import Delivery
from runtime.messages import make
from runtime.payloads import Alert, AuditEvent, Heartbeat, StateChanged, TickReport
from screens import format as fmt
from screens.control import VERBS, describe
from screens.forms import ResumeContext, ResumeForm, check_backtest, kill_confirmed, resume_problems
from screens.keys import display, key_rows, load_keymap, markdown
from screens.messages import (
    AlertRaised,
    AuditAppended,
    BacktestProgressed,
    CommandAnswered,
    HeartbeatUpdated,
    PortfolioUpdated,
    TickCompleted,
    WeightsUpdated,
)
from screens.messages import (
    StateChanged as StateMessage,
)
from screens.reader import EVENT_BACKTEST, translate
from screens.store import ChainStatus, CommandEntry, Store
from screens.widgets.charts import drawdowns, sparkline
from screens.widgets.vtable import Column, VirtualTable
from tests.screens.scenarios import NOW, portfolio

T = datetime(2024, 5, 2, 14, 30, tzinfo=UTC)


def store() -> Store:
    return Store(env="paper", operator="alice", read_only=False, bus="memory://")


# -- format -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (59.9, "59s"), (61, "1m01s"), (700, "11m"), (3 * 3600 + 300, "3h05m"), (90000, "1d01h")],
)
def test_age(seconds: float | None, text: str) -> None:
    assert fmt.age(seconds) == text


def test_states_have_a_word_and_a_glyph_and_unknown_ones_say_so() -> None:
    assert fmt.state_label("HALTED") == "■ HALTED"
    assert fmt.state_label("PAUSED") == "‖ PAUSED"
    assert fmt.state_label("SOMETHING") == "? SOMETHING"
    assert fmt.state_label(None) == "? UNKNOWN"


def test_times_are_utc_whatever_the_offset() -> None:
    from datetime import timezone

    local = datetime(2024, 5, 2, 10, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert fmt.clock_time(local) == "14:30:00Z"
    assert fmt.stamp(local) == "2024-05-02 14:30:00Z"
    assert fmt.short_stamp(local) == "05-02 14:30:00Z"


def test_since_never_goes_negative_across_clock_skew() -> None:
    assert fmt.since(T, T + timedelta(seconds=3)) == 0.0
    assert fmt.since(T, T - timedelta(seconds=3)) == 3.0


def test_numbers_from_payloads_are_read_defensively() -> None:
    assert fmt.number(True) is None
    assert fmt.number("1") is None
    assert fmt.number(float("nan")) is None
    assert fmt.money(1234.5, signed=True) == "+1,234.50"
    assert fmt.money(None) == "—"
    assert fmt.compact_money(1_234_567) == "1.23M"
    assert fmt.compact_money(-12_300, signed=True) == "-12.30k"
    assert fmt.trend(-1) == "▼"
    assert fmt.trend(1) == "▲"
    assert fmt.trend(0) == "="
    assert fmt.trend(None) == ""


def test_bar_is_exact_at_the_ends() -> None:
    assert fmt.bar(0, 4) == "····"
    assert fmt.bar(1, 4) == "████"
    assert fmt.bar(0.5, 4) == "██··"
    assert fmt.bar(2, 3) == "███"
    assert fmt.bar(-1, 3) == "···"


# -- forms -------------------------------------------------------------------------------------------
def test_resume_from_halted_needs_reason_and_incident_but_not_from_paused() -> None:
    halted = ResumeContext("alice", "HALTED", "INC-1")
    assert resume_problems(halted, ResumeForm("", "", "")) == {
        "reason": "a reason is required",
        "incident": "the open incident's id is required",
    }
    assert resume_problems(halted, ResumeForm("checked", "INC-1", "")) == {}
    assert resume_problems(ResumeContext("alice", "PAUSED"), ResumeForm("", "", "")) == {}


def test_two_approvers_need_someone_else() -> None:
    ctx = ResumeContext("alice", "HALTED", "INC-1", approvers_needed=2)
    assert "approver" in resume_problems(ctx, ResumeForm("r", "INC-1", ""))
    assert "approver" in resume_problems(ctx, ResumeForm("r", "INC-1", "alice"))
    assert resume_problems(ctx, ResumeForm("r", "INC-1", "bob")) == {}
    assert ResumeForm(" r ", " INC-1 ", "").request().model_dump() == {
        "operator": None,
        "reason": "r",
        "incident_id": "INC-1",
        "approver": None,
        "args": {},
    }


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("paper", True),
        ("KILL", True),
        (" paper ", True),
        ("kill", False),
        ("Paper", False),
        ("", False),
        ("live", False),
    ],
)
def test_kill_confirmation(typed: str, ok: bool) -> None:
    assert kill_confirmed(typed, "paper") is ok


def test_backtest_form() -> None:
    today = date(2024, 5, 2)
    good = check_backtest("aapl, msft ibm", "2023-01-02", "2023-12-29", "1,000,000", today=today)
    assert good.problems == {}
    assert good.spec is not None
    assert good.spec.symbols == ["AAPL", "MSFT", "IBM"]
    assert good.spec.capital == 1e6
    assert good.spec.request().args["start"] == "2023-01-02"
    cases = {
        ("", "2023-01-02", "2023-12-29", "1"): "symbols",
        ("AAPL, AAPL", "2023-01-02", "2023-12-29", "1"): "symbols",
        ("AAPL", "2023-13-02", "2023-12-29", "1"): "start",
        ("AAPL", "2023-06-02", "2023-01-29", "1"): "end",
        ("AAPL", "2023-06-02", "2025-01-29", "1"): "end",
        ("AAPL", "2023-01-02", "2023-12-29", "-5"): "capital",
        ("AAPL", "2023-01-02", "2023-12-29", "lots"): "capital",
    }
    for fields, bad in cases.items():
        result = check_backtest(*fields, today=today)
        assert result.spec is None, fields
        assert bad in result.problems, fields


# -- keys ---------------------------------------------------------------------------------------------
def test_key_display_and_markdown() -> None:
    assert display("question_mark") == "?"
    assert display("ctrl+p,colon") == "ctrl+p / :"
    from app.cockpit import Cockpit

    table = markdown(key_rows(Cockpit.binding_scopes()))
    assert table.startswith("| Key | Action |")
    for binding_id in ("control.kill", "control.resume", "alerts.ack", "view.filter", "app.help"):
        assert f"`{binding_id}`" in table


def test_keymap_file_problems(tmp_path: Path) -> None:
    assert load_keymap(tmp_path / "none.toml", {"a"}) == ({}, [])
    bad = tmp_path / "bad.toml"
    bad.write_text("[keys\n")
    keymap, problems = load_keymap(bad, {"a"})
    assert keymap == {}
    assert len(problems) == 1
    flat = tmp_path / "flat.toml"
    flat.write_text('"a" = "x"\n"b" = 3\n')
    assert load_keymap(flat, {"a", "b"}) == ({"a": "x"}, ["b: the keys must be a non-empty string"])


# -- store and messages ------------------------------------------------------------------------------
def test_controls_need_bus_runtime_and_write_access() -> None:
    from runtime.payloads import Presence
    from screens.store import Connection

    s = store()
    assert not s.controllable
    assert s.controls_off_reason == "bus disconnected"
    s.set_connection(Connection("connected", T))
    assert s.controls_off_reason == "runtime offline"
    s.set_presence(Presence(online=True, client_id="rt"))
    assert s.controllable
    assert s.controls_off_reason == ""
    s.read_only = True
    assert not s.controllable
    assert s.controls_off_reason == "read-only"


def test_chain_status_reports_gaps_and_verification() -> None:
    chain = ChainStatus()
    assert "no audit line" in chain.text
    for seq in (5, 6, 7):
        chain.see(seq)
    assert chain.text == "chain: seq 5..7 contiguous as seen live (not verified)"
    chain.see(10)
    assert "2 line(s) not seen live (last gap 8..9)" in chain.text
    chain.verified = {"ok": True, "head_seq": 10}
    assert chain.text == "chain ✓ VERIFIED to seq 10"
    chain.verified = {"ok": False, "head_seq": 10, "problem": "hash mismatch at 8"}
    assert chain.text == "chain ✖ BROKEN to seq 10: hash mismatch at 8"


def test_a_merged_portfolio_burst_keeps_every_nav_point() -> None:
    s = store()
    first = PortfolioUpdated(portfolio(1.0e6, "2024-05-01"), T)
    second = PortfolioUpdated(portfolio(1.1e6, "2024-05-02"), T)
    third = PortfolioUpdated(portfolio(1.2e6, "2024-05-03"), T)
    assert first.can_replace(second)
    assert second.can_replace(third)
    third.apply(s)
    assert list(s.nav) == [("2024-05-01", 1.0e6), ("2024-05-02", 1.1e6), ("2024-05-03", 1.2e6)]
    assert s.portfolio is not None
    assert s.portfolio["nav"] == 1.2e6
    same_day = PortfolioUpdated(portfolio(1.25e6, "2024-05-03"), T)
    same_day.apply(s)
    assert s.nav[-1] == ("2024-05-03", 1.25e6)
    assert len(s.nav) == 3


def test_which_messages_merge() -> None:
    beat = Heartbeat(name="risk", stage="risk", version="1", status="ok", ts=T)
    other = Heartbeat(name="data", stage="data", version="1", status="ok", ts=T)
    assert HeartbeatUpdated(beat, T).can_replace(HeartbeatUpdated(beat, T))
    assert not HeartbeatUpdated(beat, T).can_replace(HeartbeatUpdated(other, T))
    assert WeightsUpdated({}, {}, "", T).can_replace(WeightsUpdated({}, {}, "", T))
    tick = TickReport(tick_id="t", seq=1, status="completed", started=T, duration_ms=1.0, state="RUNNING")
    later = tick.model_copy(update={"seq": 2})
    first, second = TickCompleted(tick, T), TickCompleted(later, T)
    assert first.can_replace(second)  # a burst merges, and the newer one carries the older one along
    s = store()
    second.apply(s)
    assert [t.seq for t in s.ticks] == [1, 2]
    assert second.count == 2
    alert = Alert(id="a", action="x", severity="info", message="m", source="s", ts=T)
    assert not AlertRaised(alert, T).can_replace(TickCompleted(tick, T))  # only the same kind merges
    running = BacktestProgressed("r", 0.1, "running")
    assert running.can_replace(BacktestProgressed("r", 0.2, "running"))
    assert not running.can_replace(BacktestProgressed("r", 1.0, "completed"))
    assert not running.can_replace(BacktestProgressed("other", 0.2, "running"))
    assert not BacktestProgressed("r", 1.0, "completed").can_replace(BacktestProgressed("r", 1.0, "completed"))
    assert not issubclass(TickCompleted, Message) or TickCompleted.bubble is False


def test_an_older_state_does_not_overwrite_a_newer_one() -> None:
    s = store()
    new = StateChanged(state="HALTED", previous="RUNNING", reason="r", actor="a", since=T, seq=8, run_id="x")
    old = new.model_copy(update={"state": "RUNNING", "seq": 7})
    StateMessage(new, T).apply(s)
    StateMessage(old, T).apply(s)
    assert s.state_name == "HALTED"
    restarted = old.model_copy(update={"run_id": "y", "seq": 1})
    StateMessage(restarted, T).apply(s)
    assert s.state_name == "RUNNING"  # a new run starts its sequence again


def test_replies_teach_the_store() -> None:
    s = store()
    alert = Alert(id="a1", action="x", severity="error", message="m", source="s", ts=T, needs_ack=True)
    s.add_alert(alert)
    assert s.waiting_alerts() == 1
    entry = CommandEntry(T, "alice", "ack", "alert_id=a1", True, "acked", 1.0, {"id": "a1", "acked_by": "alice"})
    CommandAnswered(entry).apply(s)
    assert s.waiting_alerts() == 0
    assert s.alert("a1") is not None
    unknown = CommandEntry(T, "alice", "incidents", "", False, "unknown command 'incidents'")
    CommandAnswered(unknown).apply(s)
    assert "incidents" in s.unsupported
    assert s.incidents is None
    CommandAnswered(CommandEntry(T, "alice", "incidents", "", True, "0", data={"incidents": []})).apply(s)
    assert "incidents" not in s.unsupported
    assert s.incidents == []
    refused = CommandEntry(T, "alice", "resume", "", False, "a reason is required")
    CommandAnswered(refused).apply(s)
    assert "resume" not in s.unsupported  # refused is not unsupported


def test_audit_lines_keep_their_tick() -> None:
    s = store()
    event = AuditEvent(seq=1, event="x", actor="a", ts=T)
    AuditAppended(event, T, "run:1").apply(s)
    assert s.audit[-1].tick_id == "run:1"
    assert s.chain.last == 1


# -- reader ------------------------------------------------------------------------------------------
def delivery(topic: str, type_name: str, payload: object, tick: str | None = None) -> Delivery:
    return Delivery(topic, make(type_name, payload, source="t", tick_id=tick))  # type: ignore[arg-type]


def test_translate_each_topic() -> None:
    state = StateChanged(state="PAUSED", previous="RUNNING", reason="r", actor="a", since=T, seq=2, run_id="x")
    assert isinstance(translate(delivery(topics.STATE_RUNTIME, "runtime.state", state)), StateMessage)
    beat = Heartbeat(name="risk", stage="risk", version="1", status="ok", ts=T)
    assert isinstance(translate(delivery("state/agents/risk", "heartbeat", beat)), HeartbeatUpdated)
    feedback = translate(delivery(topics.STRATEGY_FEEDBACK, "feedback.any", {"weights": {"a": 0.5, "b": "x"}}))
    assert isinstance(feedback, WeightsUpdated)
    assert feedback.weights == {"a": 0.5}
    progress = translate(delivery(EVENT_BACKTEST, "bt", {"run_id": "r", "progress": 7, "status": "running"}))
    assert isinstance(progress, BacktestProgressed)
    assert progress.progress == 1.0
    audit = AuditEvent(seq=3, event="e", actor="a", ts=T)
    line = translate(delivery(topics.EVENT_AUDIT, "audit.event", audit, tick="run:9"))
    assert isinstance(line, AuditAppended)
    assert line.tick_id == "run:9"
    assert translate(delivery("strategy/proposal/technical", "x", {})) is None  # not shown
    assert translate(delivery(topics.STATE_RUNTIME, "other.type", {})) is None


def test_translate_refuses_a_malformed_payload() -> None:
    with pytest.raises(ValueError, match="run_id"):
        translate(delivery(EVENT_BACKTEST, "bt", {"progress": 0.5}))
    with pytest.raises(ValueError, match="validation error"):
        translate(delivery(topics.STATE_RUNTIME, "runtime.state", {"state": "HALTED"}))


# -- control --------------------------------------------------------------------------------------------
def test_every_state_changing_verb_is_logged_and_requests_read_in_the_log() -> None:
    from runtime.payloads import ControlRequest

    assert {v for v, spec in VERBS.items() if spec.changes_state} == {"pause", "resume", "run_once", "kill"}
    assert all(VERBS[v].logged for v in ("pause", "resume", "run_once", "kill", "ack", "backtest"))
    text = describe("resume", ControlRequest(reason="ok", incident_id="INC-1", approver="bob", args={"x": 1}))
    assert text == "reason='ok' incident=INC-1 approver=bob x=1"


# -- charts and table -------------------------------------------------------------------------------------
def test_drawdown_and_sparkline() -> None:
    assert drawdowns([100, 110, 99, 121]) == pytest.approx([0.0, 0.0, -0.1, 0.0])
    assert sparkline([0, 0, 0], 10) == "▁▁▁"
    assert sparkline([1, 2, 4, 8], 3) == "▃▅█"  # the last three, scaled to the largest
    assert sparkline([], 5) == ""


def test_columns_shrink_towards_their_minimum_widest_first() -> None:
    table = VirtualTable([Column("a", 10, min=4), Column("b", 20, min=10), Column("c", min=8)], lambda r: r)
    assert table._column_widths(80) == [10, 20, 46]
    assert table._column_widths(30) == [6, 12, 8]  # b gives until its spare equals a's, then both; c at its floor
    assert table._column_widths(10) == [4, 10, 8]  # cannot go below the floors: truncated on screen


def test_scenario_clock_is_fixed() -> None:
    assert NOW.tzinfo is not None


def test_alert_book_records_add_what_was_raised_before_we_connected() -> None:
    s = store()
    record = {
        "id": "old-1",
        "action": "risk_alert",
        "severity": "error",
        "message": "m",
        "source": "risk",
        "raised_at": T.isoformat(),
        "needs_ack": True,
        "status": "open",
    }
    s.add_alert_record(record)
    s.add_alert_record({**record, "id": "old-2", "status": "acknowledged", "acked_by": "bob"})
    s.add_alert_record({"id": "broken"})  # not an alert: skipped
    assert [r.id for r in s.alerts] == ["old-1", "old-2"]
    assert s.waiting_alerts() == 1
    old_2 = s.alert("old-2")
    assert old_2 is not None
    assert old_2.acked_by == "bob"


def test_an_acknowledgement_in_the_audit_stream_marks_the_alert() -> None:
    s = store()
    s.add_alert(Alert(id="a1", action="x", severity="error", message="m", source="s", ts=T, needs_ack=True))
    line = AuditEvent(seq=9, event="alert.acknowledged", actor="carol", ts=T, data={"id": "a1", "alert_id": "a1"})
    AuditAppended(line, T).apply(s)
    row = s.alert("a1")
    assert row is not None
    assert row.acked_by == "carol"
    assert s.waiting_alerts() == 0


def test_an_alert_row_is_one_flat_object_in_utc() -> None:
    """100,000 alerts: one object each for the garbage collector to walk, no pydantic model, no tzinfo each."""
    s = store()
    cet = timezone(timedelta(hours=1))
    row = s.add_alert(
        Alert(id="a1", action="x", severity="error", message="M", source="s", ts=T.astimezone(cet), needs_ack=True)
    )
    assert not hasattr(row, "__dict__")
    assert row.ts == T
    assert row.ts.tzinfo is UTC
    assert (row.id, row.severity, row.needs_ack, row.waiting) == ("a1", "error", True, True)
    assert row.haystack() == "error x s m needs-ack"
