"""The ledger's batch writes: a tick's orders, their answers and its fills, each in one transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.ledger import FillRefused, Ledger, LedgerError, marked_books
from storage.records import Fill, NavPoint, Order

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def fill(trade: str, coid: str, qty: float, price: float, **kw: Any) -> Fill:
    return Fill(kw.get("venue", "V1"), trade, coid, kw.get("ts", T0), "AAA", kw.get("side", "buy"), qty, price,
                kw.get("commission", 1.0))  # fmt: skip


async def open_ledger(tmp_path: Path) -> Ledger:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    await ledger.fund(1_000_000.0, ts=T0)
    return ledger


async def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    books = await ledger.books()
    return books, await ledger.fills(), await ledger.orders()


async def test_new_orders_take_consecutive_numbers_and_their_document_in_one_transaction(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.reserve_order_numbers(2)  # numbers 1 and 2 were used before

        def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
            orders = [Order(f"O-{n}", "AAA", "buy", 10, "V1", T0, tick_id="t1") for n in numbers]
            return orders, {("execution.intents", "t1"): {o.client_order_id: f"i{n}" for n, o in enumerate(orders)}}

        orders = await ledger.insert_new_orders(2, build, ts=T0)
        assert [o.client_order_id for o in orders] == ["O-3", "O-4"]
        assert [o.status for o in await ledger.open_orders()] == ["new", "new"]
        assert await ledger.get_json("execution.intents", "t1") == {"O-3": "i0", "O-4": "i1"}
        assert await ledger.reserve_order_numbers(1) == [5]
    finally:
        await ledger.close()


async def test_a_refused_order_batch_writes_nothing(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.insert_order(Order("O-2", "AAA", "buy", 1, "V1", T0))

        def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
            return [Order(f"O-{n}", "AAA", "buy", 1, "V1", T0) for n in numbers], {("ns", "k"): 1}

        with pytest.raises(LedgerError, match="refused"):
            await ledger.insert_new_orders(2, build, ts=T0)  # O-1 is new, O-2 exists: neither is written
        assert [o.client_order_id for o in await ledger.orders()] == ["O-2"]
        assert await ledger.get_json("ns", "k") is None
        assert await ledger.reserve_order_numbers(1) == [1]  # the reservation rolled back too
    finally:
        await ledger.close()


async def test_update_orders_changes_all_or_none(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        for coid in ("O-1", "O-2"):
            await ledger.insert_order(Order(coid, "AAA", "buy", 1, "V1", T0))
        later = T0 + timedelta(seconds=1)
        with pytest.raises(LedgerError, match="not every order"):
            await ledger.update_orders({"O-1": {"status": "acknowledged"}, "O-9": {"status": "rejected"}}, ts=later)
        assert [o.status for o in await ledger.orders()] == ["new", "new"]
        with pytest.raises(LedgerError, match="cannot update order fields"):
            await ledger.update_orders({"O-1": {"qty": 5}}, ts=later)
        await ledger.update_orders(
            {"O-1": {"status": "acknowledged", "broker_order_id": "B-1", "attempts": 1},
             "O-2": {"status": "rejected", "reason": "no"}},
            ts=later,
            documents={("execution", "failure_guard"): {"consecutive": 1}},
        )  # fmt: skip
        one, two = await ledger.order("O-1"), await ledger.order("O-2")
        assert one is not None
        assert two is not None
        assert (one.status, one.broker_order_id, one.attempts, one.updated_at) == ("acknowledged", "B-1", 1, later)
        assert (two.status, two.reason) == ("rejected", "no")
        assert await ledger.get_json("execution", "failure_guard") == {"consecutive": 1}
    finally:
        await ledger.close()


async def test_a_fill_delivered_twice_in_one_batch_is_applied_once(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.insert_order(Order("O-1", "AAA", "buy", 100, "V1", T0, status="acknowledged"))
        first, second = fill("T1", "O-1", 60, 10.0), fill("T2", "O-1", 40, 11.0)
        assert await ledger.apply_fills([first, first, second, second], ts=T0) == [True, False, True, False]
        assert await ledger.apply_fills([second, first], ts=T0) == [False, False]  # and again later: no change
        books = await ledger.books()
        assert books.positions["AAA"].qty == 100
        assert books.positions["AAA"].avg_cost == pytest.approx((60 * 10.0 + 40 * 11.0) / 100)
        assert books.account.cash == 1_000_000.0 - 60 * 10.0 - 1.0 - 40 * 11.0 - 1.0
        assert len(await ledger.fills()) == 2
        order = await ledger.order("O-1")
        assert order is not None
        assert (order.status, order.filled_qty) == ("filled", 100)
    finally:
        await ledger.close()


async def test_the_batch_matches_one_fill_at_a_time_to_the_last_bit(tmp_path: Path) -> None:
    """Cash, average cost and realised P&L are the same floats whether the fills come one by one or together."""
    fills = [fill(f"T{n}", f"O-{n % 3}", 7 + n % 5, 100.0 / 3 + n * 0.37, side="buy" if n % 3 else "sell",
                  commission=0.1 * n) for n in range(30)]  # fmt: skip
    results = []
    for name, batched in (("one", False), ("all", True)):
        ledger = await Ledger.open(tmp_path / f"{name}.sqlite")
        try:
            await ledger.fund(1_000_000.0, ts=T0)
            for n in range(3):
                await ledger.insert_order(Order(f"O-{n}", "AAA", "buy" if n else "sell", 1e6, "V1", T0))
            if batched:
                await ledger.apply_fills(fills, ts=T0)
            else:
                for f in fills:
                    await ledger.apply_fill(f)
            results.append(await snapshot(ledger))
        finally:
            await ledger.close()
    one, together = results
    assert one[0] == together[0]  # exact equality: the same operations in the same order
    assert one[1] == together[1]
    assert [(o.filled_qty, o.avg_fill_price, o.status) for o in one[2]] == [
        (o.filled_qty, o.avg_fill_price, o.status) for o in together[2]
    ]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (fill("T1", "O-1", 1, 12.0), "other terms"),  # T1 again with another price
        (fill("T9", "O-1", 41, 10.0), "over-fills"),
        (fill("T9", "O-404", 1, 10.0), "unknown order"),
        (fill("T9", "O-1", 1, 10.0, side="sell"), "side/symbol"),
    ],
)
async def test_a_refused_fill_refuses_the_whole_batch_and_says_which(tmp_path: Path, bad: Fill, match: str) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.insert_order(Order("O-1", "AAA", "buy", 100, "V1", T0, status="acknowledged"))
        before = await snapshot(ledger)
        with pytest.raises(FillRefused, match=match) as refused:
            await ledger.apply_fills(
                [fill("T1", "O-1", 50, 10.0), fill("T2", "O-1", 10, 10.0), bad],
                ts=T0,
                documents={("execution", "fill_cursors"): {"V1": "3"}},
            )
        assert refused.value.index == 2
        assert await snapshot(ledger) == before
        assert await ledger.get_json("execution", "fill_cursors") is None
    finally:
        await ledger.close()


async def test_marks_and_nav_in_one_transaction_keep_the_books_in_memory_exact(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.insert_order(Order("O-1", "AAA", "buy", 10, "V1", T0, status="acknowledged"))
        await ledger.apply_fill(fill("T1", "O-1", 10, 10.0))
        books = await ledger.books()
        point = NavPoint(T0, "2024-01-02", 1.0, 2.0, 3.0, 4.0, "t1")
        await ledger.mark_books({"AAA": 12.5, "ZZZ": 1.0}, ts=T0, nav=point)
        assert await ledger.books() == marked_books(books, {"AAA": 12.5})
        await ledger.close()
        ledger = await Ledger.open(tmp_path / "ledger.sqlite")  # from disk: the same
        assert await ledger.books() == marked_books(books, {"AAA": 12.5})
        assert [p.tick_id for p in await ledger.nav_history()] == ["t1"]
    finally:
        await ledger.close()


async def test_documents_are_stored_as_json_dumps_sorted_writes_them(tmp_path: Path) -> None:
    """A batch's kv documents are encoded by one module-level encoder: the very text json.dumps(sort_keys=True)
    gives, byte for byte."""
    documents: dict[tuple[str, str], Any] = {
        ("ns", "nested"): {"b": [1, 2.5, None, True], "a": {"z": "é€", "y": float("nan")}, "c": -0.0},
        ("ns", "cursors"): {"PAPER-B": None, "PAPER-A": "17"},
        ("ns", "plain"): [3, "x", 1e300],
    }
    ledger = await open_ledger(tmp_path)
    try:
        await ledger.update_orders({}, ts=T0, documents=documents)
        async with ledger.conn.execute("SELECT namespace, key, value FROM kv WHERE namespace = 'ns'") as cur:
            stored = {(r["namespace"], r["key"]): r["value"] for r in await cur.fetchall()}
    finally:
        await ledger.close()
    assert stored == {key: json.dumps(value, sort_keys=True) for key, value in documents.items()}
