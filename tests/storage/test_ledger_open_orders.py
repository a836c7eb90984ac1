"""The open orders kept in memory through the batch writes of orders: what is served equals a fresh read.

A second connection (a read-only ledger, which never keeps anything) gives the fresh read; orders are compared
field by field with each value's type and repr, so a datetime's tzinfo or an int where SQLite gives a float shows.
"""

from __future__ import annotations

import math
import random
from dataclasses import fields
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from storage import _memo
from storage._memo import FillKeys, OrdersMemo
from storage.ledger import FillRefused, Ledger, LedgerError
from storage.records import ORDER_FINAL_STATUSES, ORDER_OPEN_STATUSES, Books, Fill, NavPoint, Order
from tests.storage._ledger_helpers import T0, selects

NY = timezone(timedelta(hours=-5), "EST")  # stored as text: read back as an offset without its name


def shape(value: Any) -> Any:
    """A record as (field, type, repr) triples: equal only when every field is the same value of the same type."""
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, Books):
        return (shape(value.account), {s: shape(p) for s, p in value.positions.items()}, list(value.positions))
    return [(f.name, type(getattr(value, f.name)).__name__, repr(getattr(value, f.name))) for f in fields(value)]


def new_orders(rng: random.Random, tick: int) -> Any:
    """A build for :meth:`Ledger.insert_new_orders`: orders alike in priority and time, values of several types."""

    def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
        created = rng.choice([T0, T0 + timedelta(hours=tick % 3), (T0 + timedelta(hours=1)).astimezone(NY)])
        orders = [
            Order(f"O-{n}", rng.choice("ABC"), rng.choice(["buy", "sell"]), rng.choice([10, 10.0, 7.5, 3]), "V1",
                  created, status=rng.choice(["new"] * 6 + ["acknowledged", "unknown", "rejected"]),
                  limit_price=rng.choice([None, 101, 99.5, math.nan]), tick_id=rng.choice([None, f"t{tick}"]),
                  strategy=rng.choice(["", "s"]), priority=rng.choice([0, 0, 1, 2]), attempts=rng.choice([0, 1]),
                  reason=rng.choice(["", "r"]))
            for n in numbers
        ]  # fmt: skip
        return orders, {("execution", "intents"): {"tick": tick}} if tick % 2 else {}

    return build


def changes(rng: random.Random) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, values in (
        ("status", [*ORDER_OPEN_STATUSES, *ORDER_FINAL_STATUSES, "acknowledged"]),
        ("venue", ["V1", "V2"]),
        ("broker_order_id", [None, "B-1", "B-2"]),
        ("attempts", [1, 2]),
        ("reason", ["", "why"]),
    ):
        if rng.random() < 0.4:
            found[name] = rng.choice(values)
    return found or {"status": "acknowledged"}


async def unnamed_order(reader: Ledger) -> list[str]:
    """The open orders' ids as the query gave them before their order among alike ones was named."""
    async with reader.conn.execute(
        "SELECT client_order_id FROM orders WHERE status IN"
        f" ({','.join(repr(s) for s in ORDER_OPEN_STATUSES)}) ORDER BY priority, created_at"
    ) as cur:
        return [str(r[0]) for r in await cur.fetchall()]


async def run(ledger: Ledger) -> int:
    """Random batches of new orders, changes, fills (some refused, some repeated), cancels and other writes, the
    open orders and books read between them, each compared with a fresh read; returns how many were served from
    memory."""
    reader = await Ledger.open(ledger.path, readonly=True)
    rng = random.Random(11)
    fills: list[Fill] = []
    served = 0
    try:
        for step in range(400):
            known = [o.client_order_id for o in await reader.orders(limit=10_000)]
            kind = rng.choices(
                ["insert", "update", "fills", "cancel_some", "cancel_all", "insert_one", "update_one", "fill_one",
                 "raw", "other"],
                [6, 5, 6, 1, 0.3, 0.5, 0.5, 0.5, 0.3, 1],
            )[0]  # fmt: skip
            ts = (T0 + timedelta(minutes=step)).astimezone(NY if step % 3 else UTC)
            if kind == "insert":
                await ledger.insert_new_orders(rng.randrange(1, 6), new_orders(rng, step), ts=ts)
            elif kind == "update" and known:
                updates = {c: changes(rng) for c in rng.sample(known, min(len(known), rng.randrange(1, 5)))}
                if rng.random() < 0.1:
                    updates["O-unknown"] = {"status": "cancelled"}  # refuses the batch: rolled back
                try:
                    await ledger.update_orders(updates, ts=ts, documents={("x", "y"): step} if step % 2 else None)
                except LedgerError:
                    assert "O-unknown" in updates
            elif kind == "fills" and known:
                batch: list[Fill] = []
                for coid in rng.choices(known, k=rng.randrange(1, 5)):
                    o = await reader.order(coid)
                    assert o is not None
                    qty = rng.choice([o.remaining, o.remaining / 2, 1, o.remaining + 5])
                    if qty <= 0:
                        continue
                    batch.append(Fill("V1", f"T{len(fills) + len(batch)}", coid, ts, o.symbol, o.side, qty,
                                      rng.choice([100, 100.25, 99.0]), rng.choice([0, 0.5])))  # fmt: skip
                if fills and rng.random() < 0.3:
                    batch.append(rng.choice(fills))  # delivered again
                try:
                    applied = await ledger.apply_fills(batch, ts=ts)
                    fills.extend(f for f, new in zip(batch, applied, strict=True) if new)
                except FillRefused:
                    pass
            elif kind == "cancel_some":
                open_ = [o.client_order_id for o in await reader.open_orders()]
                if open_:
                    await ledger.update_orders({c: {"status": "cancelled", "reason": "halt"} for c in open_}, ts=ts)
            elif kind == "cancel_all":
                await ledger.cancel_open_orders(reason="drill", ts=ts)
            elif kind == "insert_one":
                await ledger.insert_order(Order(f"S-{step}", "A", "buy", 5, "V1", ts, status="sent", priority=1))
            elif kind == "update_one" and known:
                await ledger.update_order(rng.choice(known), ts=ts, status=rng.choice(ORDER_OPEN_STATUSES))
            elif kind == "fill_one" and known:
                o = await reader.order(rng.choice(known))
                assert o is not None
                if o.remaining > 0:
                    await ledger.apply_fill(Fill("V1", f"U{step}", o.client_order_id, ts, o.symbol, o.side,
                                                 o.remaining, 100.0))  # fmt: skip
            elif kind == "raw":  # a write that does not say what it touches
                async with ledger.transaction() as db:
                    await db.execute("UPDATE orders SET status = 'acknowledged' WHERE status = 'cancelled'")
            else:  # writes to other areas, and marks (the books in memory stay, marked)
                await ledger.record_nav(NavPoint(ts, "2024-01-02", 1.0, 1.0, 0.0, 0.0, f"t{step}"))
                await ledger.put_json("x", "z", {"step": step}, ts=ts)
                marks = {s: rng.choice([100, 101.5]) for s in rng.sample("ABC", rng.randrange(4))}
                await ledger.mark_books(marks, ts=ts, nav=NavPoint(ts, "2024-01-03", 1.0, 1.0, 0.0, 0.0))
            if rng.random() < 0.8:  # most writes find the orders in memory
                seen = selects(ledger)
                mine = await ledger.open_orders()
                served += not seen
                assert shape(mine) == shape(await reader.open_orders()), (step, kind)
                assert [o.client_order_id for o in mine] == await unnamed_order(reader)
                assert shape(await ledger.books()) == shape(await reader.books()), (step, kind)
    finally:
        await reader.close()
    return served


async def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    reader = await Ledger.open(path, readonly=True)
    try:
        found = {}
        for table in ("orders", "positions", "account", "fills", "nav_history", "kv"):
            async with reader.conn.execute(f"SELECT * FROM {table}") as cur:  # some have no rowid
                found[table] = sorted((tuple(r) for r in await cur.fetchall()), key=repr)
        return found
    finally:
        await reader.close()


async def test_the_open_orders_in_memory_follow_every_write(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every answer the ledger gives equals a fresh read by a second connection, and what it writes (fills read
    their orders, positions and account from memory) equals what a ledger that keeps nothing writes."""
    assert await run(ledger) > 150  # the write-through, not a read after each write, gave most answers
    kept = await dump(ledger.path)
    monkeypatch.setattr(Ledger, "_cached", lambda self, area, key: None)
    monkeypatch.setattr(OrdersMemo, "get", lambda self: None)
    monkeypatch.setattr(FillKeys, "get", lambda self: None)  # read again from the file for each batch
    plain = await Ledger.open(tmp_path / "plain" / "ledger.sqlite", durable=False)
    try:
        await plain.fund(1_000_000.0, ts=T0)
        assert await run(plain) == 0
    finally:
        await plain.close()
    assert await dump(plain.path) == kept
    assert len(kept["fills"]) > 100


async def test_the_batch_writes_of_orders_keep_them_in_memory(ledger: Ledger) -> None:
    def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
        return [Order(f"O-{n}", "AAA", "buy", 10, "V1", T0, limit_price=100) for n in numbers], {}

    assert await ledger.open_orders() == []
    seen = selects(ledger)
    await ledger.insert_new_orders(3, build, ts=T0)
    assert [o.client_order_id for o in await ledger.open_orders()] == ["O-1", "O-2", "O-3"]
    await ledger.update_orders({"O-1": {"status": "acknowledged", "broker_order_id": "B1"}}, ts=T0)
    await ledger.update_orders({"O-2": {"status": "rejected", "reason": "no"}}, ts=T0)
    assert [o.client_order_id for o in await ledger.open_orders()] == ["O-1", "O-3"]  # acknowledged first of alike
    writes = len(seen)
    await ledger.apply_fills([Fill("V1", "T1", "O-1", T0, "AAA", "buy", 10, 100.0)], ts=T0)
    assert [o.client_order_id for o in await ledger.open_orders()] == ["O-3"]
    assert [s for s in seen[writes:] if "status IN" in s] == []  # no read of the open orders after the writes
    await ledger.cancel_open_orders(reason="drill", ts=T0)
    assert await ledger.open_orders() == []
    assert [s for s in seen if "FROM orders WHERE status IN" in s and "rowid" in s] == []


async def test_a_fill_batch_reads_only_what_is_not_in_memory(ledger: Ledger) -> None:
    def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
        return [Order(f"O-{n}", "AAA", "buy", 10, "V1", T0) for n in numbers], {}

    await ledger.insert_new_orders(2, build, ts=T0)
    await ledger.apply_fills([Fill("V1", "T1", "O-1", T0, "AAA", "buy", 10, 100.0)], ts=T0)
    await ledger.books(), await ledger.open_orders()
    seen = selects(ledger)
    await ledger.apply_fills([Fill("V1", "T2", "O-2", T0, "AAA", "buy", 4, 101.0)], ts=T0)  # held, open: in memory
    assert seen == []  # nor is T2 a known fill: the fills' keys are in memory too
    assert await ledger.apply_fills([Fill("V1", "T2", "O-2", T0, "AAA", "buy", 4, 101.0)], ts=T0) == [False]
    assert [s.split(" FROM ")[1].split(" ")[0] for s in seen] == ["fills"]  # a known key: its terms are read
    await ledger.insert_order(Order("O-9", "BBB", "buy", 1, "V1", T0))  # another kind of write: not followed
    seen.clear()
    await ledger.apply_fills([Fill("V1", "T3", "O-9", T0, "BBB", "buy", 1, 10.0)], ts=T0)
    tables = [s.split(" WHERE")[0].rsplit(" ", 1)[-1] for s in seen]
    assert tables == ["orders", "positions"]  # BBB is not held; the account is (an order leaves the books)


async def test_values_sqlite_would_convert_drop_the_orders_in_memory(ledger: Ledger) -> None:
    """A float priority or attempts comes back an integer (INTEGER affinity): not predicted, read again."""
    reader = await Ledger.open(ledger.path, readonly=True)

    def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
        return [Order(f"O-{n}", "AAA", "buy", 10, "V1", T0, priority=1.0) for n in numbers], {}  # type: ignore[arg-type]

    try:
        await ledger.open_orders()
        await ledger.insert_new_orders(1, build, ts=T0)
        assert shape(await ledger.open_orders()) == shape(await reader.open_orders())
        assert type((await ledger.open_orders())[0].priority) is int
        await ledger.update_orders({"O-1": {"attempts": 2.0, "status": "sent"}}, ts=T0)
        assert shape(await ledger.open_orders()) == shape(await reader.open_orders())
        assert type((await ledger.open_orders())[0].attempts) is int
    finally:
        await reader.close()


async def test_fill_keys_beyond_the_bound_are_not_kept(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memo, "FILL_KEYS_KEPT", 1)

    def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
        return [Order(f"O-{n}", "AAA", "buy", 10, "V1", T0) for n in numbers], {}

    await ledger.insert_new_orders(3, build, ts=T0)
    await ledger.apply_fills([Fill("V1", "T1", "O-1", T0, "AAA", "buy", 10, 100.0)], ts=T0)  # one: kept
    assert ledger._fill_keys.get() == {("V1", "T1")}
    await ledger.apply_fills([Fill("V1", "T2", "O-2", T0, "AAA", "buy", 10, 100.0)], ts=T0)  # two: too many
    assert ledger._fill_keys.get() is None
    assert ledger._fill_keys.many
    seen = selects(ledger)
    assert await ledger.apply_fills([Fill("V1", "T2", "O-2", T0, "AAA", "buy", 10, 100.0)], ts=T0) == [False]
    assert [s for s in seen if "SELECT venue, trade_id FROM fills" in s] == []  # never read whole again
