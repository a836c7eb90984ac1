"""The paper venues on a real SQLite file: next-bar fills, partials, limits, idempotency, persistence, failures."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.execution import (
    BrokerAck,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    FailurePlan,
    FillModel,
    OrderRequest,
    PaperBroker,
    PaperExchange,
)
from agents.execution._paper import fill_time
from tests.agents.execution._helpers import DAYS, exchange, market

DATA = market("AAA", "BBB", volume=10_000.0)  # AAA opens at 100 + i on day i, BBB at 200 + i


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[PaperBroker]:
    broker = exchange(tmp_path).venue("PAPER-A")
    await broker.connect()
    yield broker
    await broker.close()


def buy(coid: str, qty: float = 100.0, symbol: str = "AAA", limit: float | None = None) -> OrderRequest:
    return OrderRequest(coid, symbol, "buy", qty, limit)


async def test_an_order_fills_at_the_next_sessions_open_never_its_own(venue: PaperBroker) -> None:
    await venue.on_bar(DATA.view(DAYS[0]))
    ack = await venue.submit(buy("C1"))
    assert ack.broker_order_id == "PAPER-A-O00000001"
    await venue.on_bar(DATA.view(DAYS[0]))  # the same session again (a second tick that day): no fill
    assert (await venue.fills_since(None)).fills == []
    await venue.on_bar(DATA.view(DAYS[1]))
    batch = await venue.fills_since(None)
    assert [(f.qty, f.price, f.commission) for f in batch.fills] == [(100.0, 101.0, 0.0)]  # day 1 opens at 101
    assert batch.fills[0].ts == fill_time(DAYS[1], "open")
    assert batch.fills[0].ts.isoformat() == "2024-01-03T14:30:00+00:00"  # 09:30 in New York
    status = await venue.order_status("C1")
    assert status is not None
    assert (status.state, status.filled_qty) == ("filled", 100.0)
    assert await venue.positions() == {"AAA": 100.0}


async def test_a_venue_that_saw_no_bar_fills_on_the_first_one(venue: PaperBroker) -> None:
    await venue.submit(buy("C1"))
    await venue.on_bar(DATA.view(DAYS[2]))
    assert [f.price for f in (await venue.fills_since(None)).fills] == [102.0]


async def test_partial_fill_above_the_cap_then_the_rest_on_the_next_bar(tmp_path: Path) -> None:
    broker = exchange(tmp_path, FillModel.no_costs(participation=0.1)).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("C1", qty=1500))  # the cap is 10% of 10,000 = 1,000 a bar
    await broker.on_bar(DATA.view(DAYS[1]))
    await broker.on_bar(DATA.view(DAYS[1]))  # the same bar twice never fills twice
    first = (await broker.fills_since(None)).fills
    assert [(f.qty, f.price) for f in first] == [(1000.0, 101.0)]
    status = await broker.order_status("C1")
    assert status is not None
    assert (status.state, status.filled_qty) == ("working", 1000.0)
    await broker.on_bar(DATA.view(DAYS[2]))
    batch = await broker.fills_since(None)
    assert [(f.trade_id, f.qty, f.price) for f in batch.fills] == [
        ("PAPER-A-T00000001", 1000.0, 101.0),
        ("PAPER-A-T00000002", 500.0, 102.0),
    ]
    status = await broker.order_status("C1")
    assert status is not None
    assert status.state == "filled"
    assert await broker.open_orders() == []
    await broker.close()


async def test_vwap_model_with_slippage_and_commission(tmp_path: Path) -> None:
    model = FillModel("vwap", slippage_bps=10, commission_per_share=0.005, min_commission=1.0)
    broker = exchange(tmp_path, model).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(OrderRequest("S1", "BBB", "sell", 100))
    await broker.on_bar(DATA.view(DAYS[1]))
    (only,) = (await broker.fills_since(None)).fills
    vwap = (201 + 203 + 199 + 202) / 4
    assert only.price == pytest.approx(vwap * (1 - 10 / 10_000))  # a sell gets less
    assert only.commission == 1.0
    assert only.ts == fill_time(DAYS[1], "vwap")
    account = await broker.account()
    assert account.positions == {"BBB": -100.0}
    assert account.cash_flow == pytest.approx(100 * only.price - 1.0)
    assert account.commissions == 1.0
    await broker.close()


async def test_a_limit_out_of_reach_stays_working_then_expires(tmp_path: Path) -> None:
    broker = exchange(tmp_path, ttl_bars=2).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("L1", limit=50.0))
    await broker.on_bar(DATA.view(DAYS[1]))
    status = await broker.order_status("L1")
    assert status is not None
    assert status.state == "working"
    await broker.on_bar(DATA.view(DAYS[2]))
    status = await broker.order_status("L1")
    assert status is not None
    assert status.state == "expired"
    assert "2 bar(s)" in status.reason
    assert (await broker.fills_since(None)).fills == []
    await broker.close()


async def test_a_limit_within_the_bar_fills_at_the_limit(venue: PaperBroker) -> None:
    await venue.on_bar(DATA.view(DAYS[0]))
    await venue.submit(buy("L1", limit=100.0))  # day 1: open 101, low 99
    await venue.on_bar(DATA.view(DAYS[1]))
    assert [f.price for f in (await venue.fills_since(None)).fills] == [100.0]


async def test_submit_is_idempotent_by_client_order_id(venue: PaperBroker) -> None:
    first = await venue.submit(buy("C1"))
    again = await venue.submit(buy("C1"))
    assert again == first
    assert len(await venue.open_orders()) == 1
    with pytest.raises(BrokerRejected, match="already used"):
        await venue.submit(buy("C1", qty=200))


async def test_invalid_orders_are_rejected_and_stay_rejected(venue: PaperBroker) -> None:
    with pytest.raises(BrokerRejected, match="bad limit"):
        await venue.submit(buy("C1", limit=-1.0))
    with pytest.raises(BrokerRejected, match="bad limit"):
        await venue.submit(buy("C1", limit=-1.0))
    status = await venue.order_status("C1")
    assert status is not None
    assert status.state == "rejected"


async def test_cancel(venue: PaperBroker) -> None:
    await venue.submit(buy("C1"))
    cancelled = await venue.cancel("C1")
    assert cancelled is not None
    assert cancelled.state == "cancelled"
    assert await venue.cancel("never-sent") is None
    await venue.on_bar(DATA.view(DAYS[3]))
    assert (await venue.fills_since(None)).fills == []


async def test_injected_failures_are_deterministic(tmp_path: Path) -> None:
    plan = FailurePlan(submit={1: "timeout", 2: "timeout_after_accept", 3: "reject", 4: "unavailable"})
    broker = exchange(tmp_path).venue("PAPER-A", plan)
    await broker.connect()
    with pytest.raises(BrokerTimeout):
        await broker.submit(buy("C1"))
    assert await broker.order_status("C1") is None  # the request was lost
    with pytest.raises(BrokerTimeout):
        await broker.submit(buy("C2"))
    status = await broker.order_status("C2")
    assert status is not None
    assert status.state == "working"  # taken, the answer lost: the "unknown" order
    with pytest.raises(BrokerRejected):
        await broker.submit(buy("C3"))
    with pytest.raises(BrokerUnavailable):
        await broker.submit(buy("C4"))
    assert await broker.order_status("C3") is None
    assert await broker.order_status("C4") is None
    ack = await broker.submit(buy("C5"))  # the fifth call is not planned to fail
    assert ack.client_order_id == "C5"
    await broker.close()


async def test_state_survives_a_restart_and_trade_ids_are_never_reused(tmp_path: Path) -> None:
    first = exchange(tmp_path, FillModel.no_costs(participation=0.1))
    broker = first.venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("C1", qty=1500))
    await broker.on_bar(DATA.view(DAYS[1]))
    cursor = (await broker.fills_since(None)).cursor
    await broker.close()

    again = PaperExchange(tmp_path / "paper_broker.sqlite", FillModel.no_costs(participation=0.1)).venue("PAPER-A")
    await again.connect()
    assert await again.positions() == {"AAA": 1000.0}
    resent = await again.submit(buy("C1", qty=1500))  # the idempotency key survived the restart
    assert resent.broker_order_id == "PAPER-A-O00000001"
    ack = await again.submit(buy("C2", symbol="BBB"))
    assert ack.broker_order_id == "PAPER-A-O00000002"
    await again.on_bar(DATA.view(DAYS[1]))  # C2 was accepted on day 1 (remembered): it waits for day 2
    assert (await again.fills_since(cursor)).fills == []
    await again.on_bar(DATA.view(DAYS[2]))
    batch = await again.fills_since(cursor)
    assert [(f.trade_id, f.client_order_id, f.qty) for f in batch.fills] == [
        ("PAPER-A-T00000002", "C1", 500.0),
        ("PAPER-A-T00000003", "C2", 100.0),
    ]
    assert await again.positions() == {"AAA": 1500.0, "BBB": 100.0}
    await again.close()


async def test_fills_answered_from_memory_are_those_the_store_reads_back(tmp_path: Path) -> None:
    """The last bar's fills are handed out from memory; a venue reopened on the file reads the same from SQL,
    the fills before its restart included."""
    model = FillModel(participation=0.1, slippage_bps=3.0, commission_per_share=0.01)
    broker = exchange(tmp_path, model).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("C1", qty=1500))
    await broker.submit(buy("C2", qty=300, symbol="BBB"))
    await broker.on_bar(DATA.view(DAYS[1]))
    cursor = (await broker.fills_since(None)).cursor
    await broker.on_bar(DATA.view(DAYS[2]))
    recent, everything = await broker.fills_since(cursor), await broker.fills_since(None)
    await broker.close()
    again = PaperExchange(tmp_path / "paper_broker.sqlite", model).venue("PAPER-A")
    await again.connect()
    try:
        assert await again.fills_since(cursor) == recent
        assert await again.fills_since(None) == everything
        assert [f.trade_id for f in everything.fills] == ["PAPER-A-T00000001", "PAPER-A-T00000002",
                                                          "PAPER-A-T00000003"]  # fmt: skip
    finally:
        await again.close()


async def test_the_working_orders_kept_apart_follow_every_change(tmp_path: Path) -> None:
    """A venue keeps its working orders beside its whole history; after fills, a cancel, a rejection and a
    restart they are still exactly the working ones of the history, in acceptance order."""

    def consistent(broker: PaperBroker) -> list[str]:
        book = broker.book
        every = sorted((o for o in book.orders.values() if o.state == "working"), key=lambda o: o.seq)
        assert book.working() == every
        return [o.client_order_id for o in every]

    broker = exchange(tmp_path, FillModel.no_costs(participation=0.1)).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("C1", qty=1500))  # fills over two bars
    await broker.submit(buy("C2", limit=1.0))  # never fills
    with pytest.raises(BrokerRejected):
        await broker.submit(buy("C3", qty=-1))  # rejected: in the history, never working
    await broker.submit(buy("C4", symbol="BBB"))
    assert consistent(broker) == ["C1", "C2", "C4"]
    await broker.on_bar(DATA.view(DAYS[1]))
    assert consistent(broker) == ["C1", "C2"]
    await broker.cancel("C2")
    await broker.on_bar(DATA.view(DAYS[2]))
    assert consistent(broker) == []
    await broker.submit(buy("C5"))
    await broker.close()
    again = PaperExchange(tmp_path / "paper_broker.sqlite", FillModel.no_costs(participation=0.1)).venue("PAPER-A")
    await again.connect()
    try:
        assert consistent(again) == ["C5"]
    finally:
        await again.close()


async def test_every_order_the_store_reads_back_is_the_one_in_memory(tmp_path: Path) -> None:
    """A bar writes only what can change of the orders it worked, a cancel the same: a venue reopened on the file
    reads every order (fields, states, bars worked, fills) exactly as the live venue holds it."""
    model = FillModel(participation=0.1, slippage_bps=3.0, commission_per_share=0.01)
    broker = PaperExchange(tmp_path / "paper_broker.sqlite", model, ttl_bars=2).venue("PAPER-A")
    await broker.connect()
    await broker.on_bar(DATA.view(DAYS[0]))
    await broker.submit(buy("C1", qty=1500))  # partly filled on two bars, then filled
    await broker.submit(buy("C2", limit=1.0))  # worked and never filled: expires after two bars
    await broker.submit(buy("C3", symbol="BBB"))  # filled on the first bar
    await broker.submit(buy("C4", symbol="BBB", limit=1.0))  # cancelled after one bar
    with pytest.raises(BrokerRejected):
        await broker.submit(buy("C5", qty=-1))
    await broker.on_bar(DATA.view(DAYS[1]))
    await broker.cancel("C4")
    for day in DAYS[2:4]:
        await broker.on_bar(DATA.view(day))
    live = dict(broker.book.orders)
    assert {o.client_order_id: o.state for o in live.values()} == {
        "C1": "filled", "C2": "expired", "C3": "filled", "C4": "cancelled", "C5": "rejected"
    }  # fmt: skip
    await broker.close()
    again = PaperExchange(tmp_path / "paper_broker.sqlite", model, ttl_bars=2).venue("PAPER-A")
    await again.connect()
    try:
        assert again.book.orders == live
    finally:
        await again.close()


async def test_a_schema_1_store_loses_its_index_by_state_and_nothing_else(tmp_path: Path) -> None:
    broker = exchange(tmp_path).venue("PAPER-A")
    await broker.connect()
    await broker.submit(buy("C1"))
    await broker.submit(buy("C2", symbol="BBB", limit=1.0))
    await broker.on_bar(DATA.view(DAYS[1]))
    live = dict(broker.book.orders)
    await broker.close()
    path = tmp_path / "paper_broker.sqlite"
    with sqlite3.connect(path) as db:  # as schema 1 left it
        db.execute("CREATE INDEX venue_orders_state ON venue_orders (venue, state)")
        db.execute("PRAGMA user_version=1")
    again = exchange(tmp_path).venue("PAPER-A")
    await again.connect()
    try:
        assert again.book.orders == live
        assert await again.positions() == {"AAA": 100.0}
    finally:
        await again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "venue_orders_state" not in indexes
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_caller_timeout_cannot_interrupt_what_the_venue_accepts(venue: PaperBroker) -> None:
    """The venue's write of a batch is one synchronous transaction: a caller whose deadline has already passed
    still gets every answer, and the venue holds every order it acknowledged (no half-accepted batch)."""
    async with asyncio.timeout(0):  # expired at once: it would cancel the caller at its first suspension point
        answers = await venue.submit_many([buy("C1"), buy("C2", symbol="BBB")])
    assert [a.client_order_id for a in answers if isinstance(a, BrokerAck)] == ["C1", "C2"]
    assert sorted(venue.book.orders) == ["C1", "C2"]


async def test_venues_share_one_file_and_keep_apart(tmp_path: Path) -> None:
    ex = exchange(tmp_path)
    a, b = ex.venue("PAPER-A"), ex.venue("PAPER-B")
    await a.connect()
    await b.connect()
    await a.submit(buy("C1"))
    await b.submit(buy("C1", symbol="BBB"))  # each venue has its own id space
    await a.on_bar(DATA.view(DAYS[1]))
    await b.on_bar(DATA.view(DAYS[1]))
    assert await a.positions() == {"AAA": 100.0}
    assert await b.positions() == {"BBB": 100.0}
    await a.close()
    await b.close()
    with sqlite3.connect(tmp_path / "paper_broker.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM venue_fills").fetchone()[0] == 2
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_closed_venue_is_unavailable(tmp_path: Path) -> None:
    broker = exchange(tmp_path).venue("PAPER-A")
    with pytest.raises(BrokerUnavailable, match="not connected"):
        await broker.submit(buy("C1"))
