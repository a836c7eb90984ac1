"""The ledger's documents in memory: a write drops only what it touches, and what is served equals a fresh read.

Statements are counted with SQLite's trace callback, so "served from memory" is asserted without timing.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import fields, replace
from datetime import datetime, timedelta

import pytest

from storage._memo import BOOKS, NAV_QUERIES
from storage.ledger import Ledger, marked_books
from storage.records import Account, Books, Fill, NavPoint, Order, Position
from tests.storage._ledger_helpers import T0, selects


async def held(ledger: Ledger) -> None:
    await ledger.insert_order(Order("O-1", "AAA", "buy", 10, "V1", T0, status="acknowledged"))
    await ledger.apply_fill(Fill("V1", "T1", "O-1", T0, "AAA", "buy", 10, 100.0, 1.0))


async def test_writes_to_the_trace_kv_or_nav_keep_the_books_and_open_orders_in_memory(ledger: Ledger) -> None:
    await held(ledger)
    books, orders = await ledger.books(), await ledger.open_orders()
    seen = selects(ledger)
    await ledger.record_decisions([("t1", "2024-01-02", "AAA", "no_intent", "{}")])
    await ledger.put_json_text("council", "tracker", '{"w": 1}', ts=T0)
    await ledger.record_nav(NavPoint(T0, "2024-01-02", 1.0, 1.0, 0.0, 0.0, "t1"))
    await ledger.claim_message("c", "m1", T0)
    assert await ledger.books() == books
    assert await ledger.open_orders() == orders
    assert await ledger.get_json("council", "tracker") == {"w": 1}  # the document just written
    assert seen == []


async def test_a_write_to_the_books_is_read_back(ledger: Ledger) -> None:
    await held(ledger)
    await ledger.books()
    await ledger.insert_order(Order("O-2", "AAA", "sell", 4, "V1", T0, status="acknowledged"))
    assert (await ledger.books()).positions["AAA"].qty == 10  # an order does not move the books
    await ledger.apply_fill(Fill("V1", "T2", "O-2", T0, "AAA", "sell", 4, 101.0))
    assert (await ledger.books()).positions["AAA"].qty == 6
    assert await ledger.open_orders() == []
    async with ledger.transaction() as db:  # a write that does not say what it touches drops everything
        await db.execute("UPDATE account SET cash = 5")
    assert (await ledger.books()).account.cash == 5


async def test_marks_keep_the_books_in_memory_marked(ledger: Ledger) -> None:
    await held(ledger)
    await ledger.books()
    seen = selects(ledger)
    await ledger.mark_books({"AAA": 104.0}, ts=T0, nav=NavPoint(T0, "2024-01-02", 1.0, 1.0, 0.0, 0.0))
    marked = await ledger.books()
    assert seen == []
    assert marked.positions["AAA"].last_price == 104.0
    fresh = await Ledger.open(ledger.path, readonly=True)
    try:
        assert await fresh.books() == marked
    finally:
        await fresh.close()


async def test_a_fill_batch_keeps_the_books_in_memory_as_a_fresh_read_gives_them(ledger: Ledger) -> None:
    await held(ledger)
    await ledger.insert_order(Order("O-2", "AAA", "sell", 10, "V1", T0, status="acknowledged"))  # closes AAA
    await ledger.insert_order(Order("O-3", "CCC", "sell", 7, "V1", T0, status="acknowledged"))  # opens a short
    await ledger.insert_order(Order("O-4", "BBB", "buy", 3, "V1", T0, status="acknowledged"))  # opens between
    await ledger.books()
    fills = [
        Fill("V1", "T2", "O-2", T0, "AAA", "sell", 10, 103, 1),  # ints bound to REAL columns
        Fill("V1", "T3", "O-3", T0, "CCC", "sell", 7, 50.5, 0.25),
        Fill("V1", "T4", "O-4", T0, "BBB", "buy", 3, 20.0, 0.0),
        Fill("V1", "T4", "O-4", T0, "BBB", "buy", 3, 20.0, 0.0),  # repeated: applied once
    ]
    assert await ledger.apply_fills(fills, ts=T0) == [True, True, True, False]
    seen = selects(ledger)
    kept = await ledger.books()
    assert seen == []
    assert list(kept.positions) == ["BBB", "CCC"]
    fresh = await Ledger.open(ledger.path, readonly=True)
    try:
        read = await fresh.books()
    finally:
        await fresh.close()
    assert kept == read
    assert [type(v) for p in kept.positions.values() for v in (p.qty, p.avg_cost, p.last_price)] == [float] * 6
    assert (type(kept.account.cash), type(kept.account.commissions)) == (float, float)


async def test_a_rolled_back_write_leaves_nothing_it_read_in_memory(ledger: Ledger) -> None:
    await held(ledger)

    async def abandoned() -> None:
        async with ledger.transaction((BOOKS,)) as db:
            await db.execute("UPDATE account SET cash = 5")
            assert (await ledger.books()).account.cash == 5  # its own uncommitted write, read inside
            raise RuntimeError("abandoned")

    with pytest.raises(RuntimeError):
        await abandoned()
    assert (await ledger.books()).account.cash != 5


async def test_the_nav_history_in_memory_follows_every_write(ledger: Ledger) -> None:
    """Random NAV points (new, replaced, out of order) between queries: each answer equals a fresh read."""
    reader = await Ledger.open(ledger.path, readonly=True)
    rng = random.Random(7)
    sessions = [f"2024-01-{d:02d}" for d in range(2, 12)]
    try:
        for step in range(300):
            session = rng.choice(sessions)
            ts = datetime.fromisoformat(f"{session}T21:00:00+00:00") + timedelta(minutes=rng.randrange(4))
            point = NavPoint(ts, session, rng.randrange(10**6) / 7, 1.0, float(step), 0.0, f"t{step}")
            if rng.random() < 0.5:
                await ledger.record_nav(point)
            else:
                await ledger.mark_books({}, ts=ts, nav=point)
            for _ in range(3):
                since = rng.choice([None, *sessions])
                limit = rng.choice([1, 3, 10, 10_000])
                assert await ledger.nav_history(since_session=since, limit=limit) == await reader.nav_history(
                    since_session=since, limit=limit
                )
            if step % 50 == 0:  # a write that does not say what it touches
                async with ledger.transaction() as db:
                    await db.execute("DELETE FROM nav_history WHERE session = ?", (rng.choice(sessions),))
    finally:
        await reader.close()


async def test_the_nav_history_is_served_from_memory_between_writes(ledger: Ledger) -> None:
    for day in (2, 3):
        await ledger.record_nav(NavPoint(T0.replace(day=day), f"2024-01-0{day}", 1.0, 1.0, 0.0, 0.0))
    first = await ledger.nav_history(since_session="2024-01-02")
    seen = selects(ledger)
    await ledger.mark_books({}, ts=T0, nav=NavPoint(T0.replace(day=4), "2024-01-04", 2.0, 1.0, 0.0, 0.0))
    again = await ledger.nav_history(since_session="2024-01-02")
    later = await ledger.nav_history(since_session="2024-01-03", limit=5)  # cut from the answer above
    assert seen == []
    assert again[:2] == first
    assert [p.session for p in again] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert later == again[1:]


async def test_a_cancelled_writer_leaves_the_ledger_usable(ledger: Ledger) -> None:
    started = asyncio.Event()

    async def writer() -> None:
        async with ledger.transaction() as db:
            await db.execute("UPDATE account SET cash = 7")
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(writer())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await ledger.books()).account.cash == 1_000_000.0
    await ledger.fund(5.0, ts=T0)  # the next write can begin


async def test_the_nav_answers_kept_stay_few_however_many_queries(ledger: Ledger) -> None:
    """A director asking from yesterday each session must not leave an answer behind a session."""
    await ledger.nav_history(limit=5_000)  # complete (the ledger has no point yet): later answers are cut from it
    for day in range(1, 29):
        point = NavPoint(T0.replace(month=2, day=day), f"2024-02-{day:02d}", float(day), 1.0, 0.0, 0.0)
        await ledger.mark_books({}, ts=point.ts, nav=point)
        assert [p.nav for p in await ledger.nav_history(since_session=point.session)] == [float(day)]
    assert len(ledger._navs.answers) <= NAV_QUERIES


def test_marked_books_is_a_replace_of_the_last_price() -> None:
    """marked_books builds each Position field by field (faster than dataclasses.replace): it must name them all."""
    held = Position("AAA", 10.0, 100.0, 5.5, 101.0)
    assert [f.name for f in fields(Position)] == ["symbol", "qty", "avg_cost", "realised_pnl", "last_price"]
    books = Books(Account(1.0, 2.0, 3.0), {"AAA": held, "BBB": Position("BBB", -1.0, 7.0)})
    marked = marked_books(books, {"AAA": 104.0, "CCC": 1.0})
    assert marked == Books(books.account, {"AAA": replace(held, last_price=104.0), "BBB": books.positions["BBB"]})
