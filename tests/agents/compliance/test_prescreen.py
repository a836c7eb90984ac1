"""The council's compliance pre-screen: what compliance would veto never leaves the council, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.compliance import ComplianceSettings, PreScreen
from agents.compliance._prescreen import PREFIX
from agents.types import TradePack
from storage.ledger import Ledger
from storage.records import Fill, Order
from tests.agents.risk.helpers import NAV, intent, make_market, view_of

VIEW = view_of(make_market())


async def _ledger_with_a_recent_sale(path: Path) -> Ledger:
    ledger = await Ledger.open(path)
    when = datetime.combine(VIEW.as_of - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    await ledger.fund(NAV, ts=when)
    await ledger.insert_order(Order("C-1", "AAPL", "buy", 100, "PAPER-A", when, status="acknowledged"))
    await ledger.apply_fill(Fill("PAPER-A", "T-1", "C-1", when, "AAPL", "buy", 100, 100.0))
    await ledger.insert_order(Order("C-2", "AAPL", "sell", 100, "PAPER-A", when, status="acknowledged"))
    await ledger.apply_fill(Fill("PAPER-A", "T-2", "C-2", when + timedelta(hours=1), "AAPL", "sell", 100, 100.0))
    return ledger


async def test_a_buy_back_inside_the_wash_window_is_dropped_with_the_reason(tmp_path: Path) -> None:
    ledger = await _ledger_with_a_recent_sale(tmp_path / "l.sqlite")
    try:
        pack = TradePack(as_of=VIEW.as_of, intents=[intent("AAPL", "buy", 50), intent("JPM", "buy", 50)])
        screened = await PreScreen(ComplianceSettings()).apply(pack, ledger, VIEW)
    finally:
        await ledger.close()
    assert [i.symbol for i in screened.intents] == ["JPM"]
    assert screened.no_trade["AAPL"].startswith(PREFIX + "wash_trade")


async def test_outside_the_window_nothing_is_dropped(tmp_path: Path) -> None:
    ledger = await _ledger_with_a_recent_sale(tmp_path / "l.sqlite")
    try:
        pack = TradePack(as_of=VIEW.as_of, intents=[intent("AAPL", "buy", 50)])
        screened = await PreScreen(ComplianceSettings(wash_window_days=1)).apply(pack, ledger, VIEW)
    finally:
        await ledger.close()
    assert screened == pack


async def test_without_a_wash_window_the_fills_are_not_read_and_nothing_is_dropped(tmp_path: Path) -> None:
    ledger = await _ledger_with_a_recent_sale(tmp_path / "l.sqlite")
    try:
        pack = TradePack(as_of=VIEW.as_of, intents=[intent("AAPL", "buy", 50), intent("JPM", "buy", 50)])
        screen = PreScreen(ComplianceSettings(wash_window_days=0))
        screened = await screen.apply(pack, ledger, VIEW)
    finally:
        await ledger.close()
    assert screen.fills.rowid == 0  # never asked the ledger
    assert screened == pack
