"""The ledger's inline connection: every statement on the calling thread, no worker thread; durable ledgers
``synchronous=FULL``, throwaway ones (``durable=False``) ``OFF``."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from storage._inline import InlineConnection
from storage.ledger import Ledger
from storage.records import Order

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


async def test_a_throwaway_ledger_runs_its_statements_on_the_calling_thread(tmp_path: Path) -> None:
    threads = threading.active_count()
    ledger = await Ledger.open(tmp_path / "ledger.sqlite", durable=False)
    try:
        assert isinstance(ledger.conn, InlineConnection)
        assert threading.active_count() == threads  # no aiosqlite worker
        async with ledger.conn.execute("PRAGMA synchronous") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == 0  # OFF
        await ledger.fund(1_000.0, ts=T0)
        assert (await ledger.books()).nav == pytest.approx(1_000.0)
    finally:
        await ledger.close()
    durable = await Ledger.open(tmp_path / "ledger.sqlite")
    try:
        assert isinstance(durable.conn, InlineConnection)
        async with durable.conn.execute("PRAGMA synchronous") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == 2  # FULL: every commit fsync'd, inline
        assert (await durable.books()).nav == pytest.approx(1_000.0)  # what the throwaway one committed is there
    finally:
        await durable.close()


async def change_then_fail(ledger: Ledger) -> None:
    async with ledger.transaction() as db:
        await db.execute("UPDATE orders SET qty = 99 WHERE client_order_id = 'O-1'")
        raise RuntimeError("boom")


async def test_a_failed_transaction_rolls_back_and_the_next_one_works(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite", durable=False)
    try:
        await ledger.insert_order(Order("O-1", "AAA", "buy", 10, "V1", T0))
        with pytest.raises(RuntimeError, match="boom"):
            await change_then_fail(ledger)
        order = await ledger.order("O-1")
        assert order is not None
        assert order.qty == 10
        await ledger.insert_order(Order("O-2", "AAA", "sell", 5, "V1", T0))
        assert {o.client_order_id for o in await ledger.open_orders()} == {"O-1", "O-2"}
    finally:
        await ledger.close()


async def test_a_closed_inline_connection_refuses_statements(tmp_path: Path) -> None:
    conn = await InlineConnection(lambda: sqlite3.connect(tmp_path / "x.sqlite"))
    await conn.execute("CREATE TABLE t (x)")
    await conn.close()
    with pytest.raises(ValueError, match="no active connection"):
        await conn.execute("SELECT 1")
    assert isinstance(conn, aiosqlite.Connection)
