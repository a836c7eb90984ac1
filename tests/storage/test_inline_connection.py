"""The ledger's inline connection: statements on the calling thread, a durable commit on a worker thread that
every later statement waits for; a throwaway ledger (``durable=False``) with no thread at all."""

from __future__ import annotations

import asyncio
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
        assert durable.conn.durable_commits  # live ledgers fsync their commits on a worker thread
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


async def test_a_durable_commit_runs_on_a_worker_thread_and_the_next_statement_waits_for_it(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []
    gate = threading.Event()
    main = threading.get_ident()

    def trace(sql: str) -> None:
        seen.append((threading.get_ident() == main, sql))
        if sql == "COMMIT":
            gate.wait(timeout=30)  # held until the test has queued a statement behind the commit

    def connector() -> sqlite3.Connection:
        raw = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None, check_same_thread=False)
        raw.set_trace_callback(trace)
        return raw

    conn = await InlineConnection(connector, durable_commits=True)
    try:
        await conn.execute("CREATE TABLE t (x)")
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute("INSERT INTO t VALUES (1)")
        commit = asyncio.ensure_future(conn.execute("COMMIT"))
        read = asyncio.ensure_future(conn.execute("SELECT x FROM t"))
        await asyncio.sleep(0)
        assert not read.done()  # queued behind the commit, not run beside it
        gate.set()
        await commit
        cursor = await read
        assert [tuple(r) for r in await cursor.fetchall()] == [(1,)]
    finally:
        gate.set()
        await conn.close()
    assert seen == [
        (True, "CREATE TABLE t (x)"),
        (True, "BEGIN IMMEDIATE"),
        (True, "INSERT INTO t VALUES (1)"),
        (False, "COMMIT"),
        (True, "SELECT x FROM t"),
    ]
