"""The daily report from a crafted ledger and audit log on tmp_path: figures, files, dispatch, determinism."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.execution import PORTFOLIO_TYPE, portfolio_state
from ops.alerts import AlertSettings, Notifier
from ops.report import (
    build_daily_report,
    read_audit_lines,
    render_markdown,
    report_paths,
    retained_portfolio,
    sectors_from_portfolio,
    session_closes,
    write_daily_report,
)
from runtime import topics
from runtime.bus import MemoryBus
from runtime.clock import SimClock
from runtime.messages import make, new_id
from storage.audit import AuditLog
from storage.ledger import Ledger
from storage.records import Account, Books, Fill, Incident, NavPoint, Order, Position
from tests.ops.alerts.receivers import HttpReceiver, SmtpReceiver

DAY = date(2026, 11, 24)
AT_1630 = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 16:30 New York
SECTORS = {"AAPL": "Technology", "MSFT": "Technology"}


def utc(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def _trade(ledger: Ledger, n: int, symbol: str, side: str, qty: float, price: float, at: datetime) -> None:
    order = Order(f"T-{n:06d}", symbol, side, qty, "PAPER-A", at, status="acknowledged")  # type: ignore[arg-type]
    await ledger.insert_order(order)
    await ledger.apply_fill(Fill("PAPER-A", f"F{n}", order.client_order_id, at, symbol, side, qty, price, 1.0))  # type: ignore[arg-type]


async def craft_ledger(path: Path) -> Ledger:
    """1,000,000 of capital; AAPL long (partly sold at a profit), MSFT long, IBM short; NAV closes over a year."""
    ledger = await Ledger.open(path)
    await ledger.fund(1_000_000.0, ts=utc(1, 14, month=12, year=2025))
    await _trade(ledger, 1, "AAPL", "buy", 100, 150.0, utc(20, 15))
    await _trade(ledger, 2, "MSFT", "buy", 50, 300.0, utc(20, 15))
    await _trade(ledger, 3, "IBM", "sell", 20, 100.0, utc(20, 15))
    await _trade(ledger, 4, "AAPL", "sell", 40, 170.0, utc(24, 16))  # realises 40 x 20 = 800
    await ledger.mark_prices({"AAPL": 165.0, "MSFT": 290.0, "IBM": 110.0}, ts=utc(24, 21))
    closes = [
        (utc(31, 15, month=12, year=2025), "2025-12-31", 999_000.0),
        (utc(31, 21, month=12, year=2025), "2025-12-31", 1_000_000.0),  # the session's last point: its close
        (utc(30, 21, month=10), "2026-10-30", 1_020_000.0),
        (utc(23, 21), "2026-11-23", 1_030_000.0),
        (utc(24, 15), "2026-11-24", 1_031_000.0),
        (utc(24, 21), "2026-11-24", 1_040_000.0),
        (utc(25, 21), "2026-11-25", 9_999_999.0),  # after the reported session: ignored
    ]
    for ts, session, nav in closes:
        await ledger.record_nav(NavPoint(ts, session, nav, 978_796.0, 26_600.0, 22_200.0))
    for incident, opened, closed in [
        ("INC-OLD-CLOSED", utc(20, 15), True),
        ("INC-OLD-OPEN", utc(21, 15), False),
        ("INC-TODAY", utc(24, 16), False),
    ]:
        record = Incident(incident, opened, "risk.kill_switch", f"reason of {incident}", {}, "open", "run-1")
        await ledger.record_transition(
            "HALTED", reason="kill", actor="risk", ts=opened, run_id="run-1", incident=record
        )
        if closed:
            await ledger.record_transition(
                "RUNNING",
                reason="signed off",
                actor="alice",
                ts=opened,
                run_id="run-1",
                close_incident=(incident, "alice"),
            )
    return ledger


def craft_audit(home: Path) -> Path:
    moments = iter(
        [
            utc(24, 3),  # 22:00 New York on the 23rd: another session
            utc(24, 14, 35),
            utc(24, 15),
            utc(24, 16),
            utc(24, 16),
            utc(24, 16, 5),
            utc(25, 2),  # 21:00 New York on the 24th: this session
        ]
    )
    path = home / "audit" / "runtime_events.jsonl"
    with AuditLog(path, run_id="run-1", env="paper", clock=lambda: next(moments)) as log:

        def alert(action: str, severity: str, message: str, **details: Any) -> dict[str, Any]:
            return {"id": f"id-{action}", "action": action, "severity": severity, "message": message,
                    "source": "risk", "details": details}  # fmt: skip

        log.append("alert.raised", alert("risk_reject", "warning", "yesterday's reject"), actor="risk")
        rejected = [  # as the risk agent details a risk_reject alert
            {"intent_id": "i1", "symbol": "AAPL", "reasons": ["single_name: 12% > 10%", "collar: 6%"]},
            {"intent_id": "i2", "symbol": "MSFT", "reasons": ["single_name: 11% > 10%"]},
        ]
        log.append("alert.raised", alert("risk_reject", "warning", "AAPL rejected", rejected=rejected), actor="risk")
        log.append(
            "alert.raised",
            alert("compliance_reject", "warning", "XYZ restricted", vetoes=[{"reasons": ["restricted_list: XYZ"]}]),
            actor="compliance",
        )
        log.append("runtime.transition", {"from": "RUNNING", "to": "HALTED", "reason": "kill switch"}, actor="risk")
        log.append("alert.raised", alert("runtime_kill_switch", "critical", "HALTED | drawdown"), actor="runtime")
        log.append("alert.acknowledged", {"id": "id-runtime_kill_switch"}, actor="alice")
        log.append("alert.raised", alert("risk_alert", "warning", "late soft breach"), actor="risk")
    with path.open("a", encoding="utf-8") as f:
        f.write("{not json\n")  # a damaged line is counted, not fatal
    return path


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    books = await craft_ledger(tmp_path / "home" / "ledger.sqlite")
    yield books
    await books.close()


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return craft_audit(tmp_path / "home")


async def _build(ledger: Ledger, audit_path: Path, day: date = DAY) -> Any:
    records, bad = await asyncio.to_thread(lambda: read_audit_lines(audit_path.read_bytes().splitlines()))
    return await build_daily_report(
        ledger, day, generated_at=AT_1630, audit_records=records, audit_unreadable=bad, sectors=SECTORS, env="paper"
    )


async def test_performance_from_nav_history_and_books(ledger: Ledger, audit_path: Path) -> None:
    p = (await _build(ledger, audit_path)).performance
    assert p.nav == 1_040_000.0
    assert p.nav_source == "nav_history"
    assert p.day_return == pytest.approx(1_040_000 / 1_030_000 - 1, abs=1e-8)
    assert p.day_pnl == 10_000.0
    assert p.mtd_return == pytest.approx(1_040_000 / 1_020_000 - 1, abs=1e-8)  # base: October's last close
    assert p.ytd_return == pytest.approx(0.04, abs=1e-8)  # base: 2025's last close, its last point
    assert p.ytd_peak_nav == 1_040_000.0
    assert p.drawdown_from_peak == 0.0
    assert p.cash == 978_796.0  # 1e6 - 15,000 - 15,000 + 2,000 + 6,800 - 4 commissions
    assert p.commissions == 4.0
    assert p.unrealised_pnl == 200.0  # AAPL 60 x (165-150) + MSFT 50 x (290-300) - IBM 20 x (110-100)
    assert p.realised_pnl == 800.0  # AAPL 40 x (170-150)
    assert p.realised_pnl_day is None


async def test_exposures_by_name_and_sector(ledger: Ledger, audit_path: Path) -> None:
    e = (await _build(ledger, audit_path)).exposures
    assert (e.gross, e.net) == (26_600.0, 22_200.0)
    assert e.gross_ratio == pytest.approx(26_600 / 1_040_000, abs=1e-8)
    assert [(x.symbol, x.market_value, x.sector) for x in e.by_name] == [
        ("MSFT", 14_500.0, "Technology"),
        ("AAPL", 9_900.0, "Technology"),
        ("IBM", -2_200.0, "Unclassified"),
    ]
    assert [(s.sector, s.gross, s.net, s.names) for s in e.by_sector] == [
        ("Technology", 24_400.0, 24_400.0, 2),
        ("Unclassified", 2_200.0, -2_200.0, 1),
    ]


async def test_breaches_of_the_session_in_new_york_time(ledger: Ledger, audit_path: Path) -> None:
    b = (await _build(ledger, audit_path)).breaches
    assert b.alerts_by_action == {"compliance_reject": 1, "risk_alert": 1, "risk_reject": 1, "runtime_kill_switch": 1}
    assert b.alerts_by_severity == {"critical": 1, "warning": 3}
    assert b.rejects_by_rule == {"collar": 1, "restricted_list": 1, "single_name": 2}
    assert [a.message for a in b.alerts][:3] == ["AAPL rejected", "XYZ restricted", "HALTED | drawdown"]
    assert "yesterday's reject" not in [a.message for a in b.alerts]
    assert [(t.from_state, t.to_state, t.actor) for t in b.transitions] == [("RUNNING", "HALTED", "risk")]
    assert b.acknowledged == 1
    assert (b.audit_lines_read, b.audit_lines_unreadable) == (7, 1)


async def test_incidents_of_the_session_and_those_still_open(ledger: Ledger, audit_path: Path) -> None:
    incidents = (await _build(ledger, audit_path)).incidents
    assert [(i.id, i.status) for i in incidents] == [("INC-OLD-OPEN", "open"), ("INC-TODAY", "open")]


async def test_the_report_is_deterministic(ledger: Ledger, audit_path: Path) -> None:
    first = await _build(ledger, audit_path)
    second = await _build(ledger, audit_path)
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)
    assert render_markdown(first) == render_markdown(second)


async def test_markdown(ledger: Ledger, audit_path: Path) -> None:
    md = render_markdown(await _build(ledger, audit_path))
    assert md.startswith("# AgentHedge daily report: 2026-11-24 (paper)\n")
    assert "Generated 2026-11-24 16:30 EST. Times below are America/New_York." in md
    assert "| NAV | 1,040,000.00 |" in md
    assert "| Day | +0.97% (+10,000.00) |" in md
    assert "| Year to date | +4.00% |" in md
    assert "| Realised P&L, cumulative | +800.00 |" in md
    assert "| MSFT | Technology | 50 | 290.00 | 14,500.00 | 1.39% | -500.00 |" in md
    assert "| 11:00:00 | CRITICAL | runtime_kill_switch | HALTED \\| drawdown |" in md  # escaped pipe
    assert "Rejects by rule: collar x1, restricted_list x1, single_name x2." in md
    assert "| 11:00:00 | RUNNING | HALTED | kill switch | risk |" in md
    assert "| INC-TODAY | 2026-11-24 11:00 | risk.kill_switch | reason of INC-TODAY | OPEN |" in md
    assert "1 audit line(s) could not be read" in md


async def test_files_snapshot_and_dispatch(
    tmp_path: Path, ledger: Ledger, audit_path: Path, webhook: HttpReceiver, smtp: SmtpReceiver
) -> None:
    home = tmp_path / "home"
    settings = AlertSettings(
        webhook_url=webhook.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        email_from="agenthedge@example.com",
        email_to=["ops@example.com"],
        min_severity="error",  # the daily report still goes: its own minimum is info
    )
    notifier = Notifier.from_settings(settings, clock=SimClock(AT_1630), housekeeping_interval=None)
    async with notifier:
        written = await write_daily_report(
            home, ledger, DAY, generated_at=AT_1630, env="paper", sectors=SECTORS, notifier=notifier
        )
        await notifier.wait_idle()
    md_path, json_path = report_paths(home, DAY)
    assert (written.md_path, written.json_path) == (md_path, json_path)
    assert md_path == home / "reports" / "daily-2026-11-24.md"
    assert md_path.read_text(encoding="utf-8") == written.markdown
    assert json.loads(json_path.read_text(encoding="utf-8")) == written.report.to_json()
    assert written.dispatched
    (hook,) = webhook.bodies
    assert hook["action"] == "daily_report"
    assert hook["severity"] == "info"
    assert hook["message"].startswith(
        "Daily report 2026-11-24: NAV 1,040,000.00, day +0.97%; 4 alert(s), 2 incident(s)"
    )
    assert hook["details"]["report_markdown"] == written.markdown
    (mail,) = smtp.messages
    names = {part.get_filename() for part in mail.iter_attachments()}
    assert names == {"daily-2026-11-24.md", "daily-2026-11-24.json"}


async def test_the_next_report_knows_the_days_realised_pnl(tmp_path: Path, ledger: Ledger, audit_path: Path) -> None:
    home = tmp_path / "home"
    first = await write_daily_report(home, ledger, DAY, generated_at=AT_1630, audit_path=audit_path)
    assert first.report.performance.realised_pnl_day is None
    await _trade(ledger, 5, "MSFT", "sell", 10, 320.0, utc(25, 16))  # realises 10 x 20 = 200
    nxt = DAY + timedelta(days=1)
    second = await write_daily_report(home, ledger, nxt, generated_at=AT_1630 + timedelta(days=1))
    assert second.report.performance.realised_pnl == 1_000.0
    assert second.report.performance.realised_pnl_day == 200.0
    again = await write_daily_report(home, ledger, nxt, generated_at=AT_1630 + timedelta(days=1, minutes=5))
    assert again.report.performance.realised_pnl_day == 200.0  # a re-run keeps the day before as its base
    assert report_paths(home, nxt)[0].exists()


async def test_without_a_nav_point_the_books_are_used(ledger: Ledger, audit_path: Path) -> None:
    report = await _build(ledger, audit_path, day=date(2026, 11, 26))  # Thanksgiving: no session, no point
    assert report.performance.nav_source == "books"
    assert report.performance.nav == 1_000_996.0
    assert any("no NAV point" in n for n in report.notes)


async def test_an_empty_ledger_still_reports(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "empty.sqlite")
    try:
        written = await write_daily_report(tmp_path, ledger, DAY, generated_at=AT_1630)
    finally:
        await ledger.close()
    p = written.report.performance
    assert (p.nav, p.day_return, p.ytd_return) == (0.0, None, None)
    assert "No positions." in written.markdown
    assert "No breaches, rejects or other alerts." in written.markdown


def test_session_closes_take_each_sessions_last_point() -> None:
    points = [
        NavPoint(utc(24, 21), "2026-11-24", 2.0, 0, 0, 0),
        NavPoint(utc(24, 15), "2026-11-24", 1.0, 0, 0, 0),
        NavPoint(utc(23, 21), "2026-11-23", 3.0, 0, 0, 0),
    ]
    closes = session_closes(points, DAY)
    assert list(closes) == [date(2026, 11, 23), DAY]
    assert closes[DAY].nav == 2.0


def _published_portfolio(ts: datetime) -> dict[str, Any]:
    """What agents.execution publishes on state/portfolio, made by its own function."""
    books = Books(
        Account(978_796.0, 1_000_000.0, 4.0),
        {"AAPL": Position("AAPL", 60, 150.0, 800.0, 165.0), "IBM": Position("IBM", -20, 100.0, 0.0, 110.0)},
    )
    sectors = {"AAPL": "Technology", "IBM": "Services"}
    state = portfolio_state(
        books, sector_of=sectors.__getitem__, as_of=DAY, ts=ts, tick_id=None, previous_nav=None, open_orders=0
    )
    return state.model_dump(mode="json")


def test_sectors_from_the_portfolio_state() -> None:
    assert sectors_from_portfolio(_published_portfolio(AT_1630)) == {"AAPL": "Technology", "IBM": "Services"}
    state = {"positions": {"AAPL": {"qty": 1, "sector": "Technology"}, "XOM": {"qty": 2}}, "sectors": {"XOM": "Energy"}}
    assert sectors_from_portfolio(state) == {"AAPL": "Technology", "XOM": "Energy"}
    assert sectors_from_portfolio(None) == {}


async def test_sectors_come_from_the_retained_portfolio_on_the_bus(tmp_path: Path, ledger: Ledger) -> None:
    bus = MemoryBus(f"memory://report-{new_id()}", "test")
    await bus.start()
    try:
        state = make(PORTFOLIO_TYPE, _published_portfolio(AT_1630), source="reconciliation")
        await bus.publish(topics.STATE_PORTFOLIO, state, retain=True)
        written = await write_daily_report(tmp_path / "home", ledger, DAY, generated_at=AT_1630, bus=bus)
        empty = MemoryBus(f"memory://report-{new_id()}", "test")
        await empty.start()
        try:
            assert await retained_portfolio(empty, timeout=0.05) is None
        finally:
            await empty.close()
    finally:
        await bus.close()
    sectors = {line.symbol: line.sector for line in written.report.exposures.by_name}
    assert sectors == {"AAPL": "Technology", "IBM": "Services", "MSFT": "Unclassified"}


async def test_a_year_of_minute_points_is_read_quickly(tmp_path: Path) -> None:

    ledger = await Ledger.open(tmp_path / "big.sqlite")
    try:
        await ledger.fund(1_000_000.0, ts=utc(1, 14, month=1))
        async with ledger.transaction() as db:  # 250 sessions x 390 minutes, as a live year would leave
            rows = []
            day = date(2026, 1, 2)
            for _ in range(250):
                for minute in range(390):
                    ts = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC) + timedelta(minutes=minute)
                    rows.append((ts.isoformat(), day.isoformat(), None, 1e6 + minute, 0.0, 0.0, 0.0))
                day += timedelta(days=1)
            await db.executemany("INSERT INTO nav_history VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        report = await build_daily_report(ledger, day - timedelta(days=1), generated_at=AT_1630)
    finally:
        await ledger.close()
    assert report.performance.nav == 1e6 + 389
