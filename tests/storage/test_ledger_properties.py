"""Property tests of the ledger's books (hypothesis): random orders and fills, buys and sells, partials,
flips from long to short, fills delivered twice, over-fills, conflicting redeliveries, cancels, marks and
restarts. After every step the books must match a model recomputed from the accepted fills alone:
cash + sum(qty x price) = NAV to the cent, no fill applied twice, refused fills change nothing.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.ledger import FillRefused, Ledger
from storage.records import Fill, Order, Side

# The accounting is under test, not durability: throwaway ledgers live on tmpfs when there is one (no fsync cost).
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
CAPITAL = 1_000_000.0
CENT = 0.005
SYMBOLS = ("AAA", "BBB", "CCC")
VENUES = ("V1", "V2")
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)

qty_st = st.integers(1, 800).map(lambda n: n / 2)  # whole and half shares
price_st = st.integers(1, 100_000).map(lambda c: c / 100)
commission_st = st.integers(0, 500).map(lambda c: c / 100)
pick_st = st.integers(0, 10_000)

step_st = st.one_of(
    st.tuples(st.just("order"), st.sampled_from(SYMBOLS), st.sampled_from(("buy", "sell")), qty_st),
    st.tuples(st.just("fill"), pick_st, qty_st, price_st, commission_st, st.sampled_from(VENUES)),
    st.tuples(st.just("fill"), pick_st, qty_st, price_st, commission_st, st.sampled_from(VENUES)),
    st.tuples(st.just("fill_rest"), pick_st, price_st, commission_st),
    st.tuples(st.just("redeliver"), pick_st),
    st.tuples(st.just("conflict"), pick_st, price_st),
    st.tuples(st.just("overfill"), pick_st, qty_st, price_st),
    st.tuples(st.just("mark"), st.dictionaries(st.sampled_from(SYMBOLS), price_st, max_size=3)),
    st.tuples(st.just("cancel"), pick_st),
    st.tuples(st.just("reopen")),
)


@dataclass
class ModelOrder:
    coid: str
    symbol: str
    side: Side
    qty: float
    filled: float = 0.0
    status: str = "acknowledged"


@dataclass
class Model:
    """The books recomputed from the accepted fills, independently of the ledger's SQL."""

    orders: list[ModelOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    cash: float = CAPITAL
    commissions: float = 0.0
    qty: dict[str, float] = field(default_factory=dict)
    avg: dict[str, float] = field(default_factory=dict)
    realised: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def apply(self, fill: Fill, order: ModelOrder) -> None:
        self.fills.append(fill)
        signed = fill.qty if fill.side == "buy" else -fill.qty
        self.cash -= signed * fill.price + fill.commission
        self.commissions += fill.commission
        order.filled += fill.qty
        if order.filled >= order.qty - 1e-9:
            order.status = "filled"
        elif order.status not in ("cancelled", "expired", "rejected"):
            order.status = "partially_filled"
        held, avg = self.qty.get(fill.symbol, 0.0), self.avg.get(fill.symbol, 0.0)
        new = held + signed
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding: average cost moves
            avg = (abs(held) * avg + fill.qty * fill.price) / abs(new)
        else:  # reducing, closing or flipping: realise on the closed part at the average cost
            closed = min(fill.qty, abs(held))
            self.realised[fill.symbol] = self.realised.get(fill.symbol, 0.0) + closed * (fill.price - avg) * (
                1 if held > 0 else -1
            )
            if abs(new) <= 1e-9:
                new, avg = 0.0, 0.0
            elif (new > 0) != (held > 0):
                avg = fill.price
        self.qty[fill.symbol], self.avg[fill.symbol] = new, avg
        self.last[fill.symbol] = fill.price

    @property
    def nav(self) -> float:
        return self.cash + sum(q * self.last[s] for s, q in self.qty.items())


async def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    books = await ledger.books()
    async with ledger.conn.execute("SELECT * FROM fills ORDER BY venue, trade_id") as cur:
        fills = [tuple(r) for r in await cur.fetchall()]
    async with ledger.conn.execute("SELECT * FROM orders ORDER BY client_order_id") as cur:
        orders = [tuple(r) for r in await cur.fetchall()]
    return books, fills, orders


async def check(ledger: Ledger, model: Model) -> None:
    books = await ledger.books()
    assert abs(books.account.cash - model.cash) < CENT
    assert abs(books.account.commissions - model.commissions) < CENT
    held = {s: q for s, q in model.qty.items() if q != 0}
    assert set(books.positions) == set(held)
    for symbol, position in books.positions.items():
        assert abs(position.qty - held[symbol]) < 1e-9
        assert position.last_price == model.last[symbol]
        assert abs(position.avg_cost - model.avg[symbol]) < 1e-6
    # The identity the reconciliation agent checks every tick, against the independent model.
    marks = {s: p.last_price if p.last_price is not None else p.avg_cost for s, p in books.positions.items()}
    assert abs(books.nav - (books.account.cash + sum(p.qty * marks[s] for s, p in books.positions.items()))) < CENT
    assert abs(books.nav - model.nav) < CENT
    # Average cost accounting: NAV - capital = realised + unrealised - commissions (closed positions included).
    async with ledger.conn.execute("SELECT symbol, realised_pnl FROM positions") as cur:
        realised = {r["symbol"]: r["realised_pnl"] for r in await cur.fetchall()}
    for symbol, value in model.realised.items():
        assert abs(realised.get(symbol, 0.0) - value) < CENT
    unrealised = sum(p.qty * (marks[s] - p.avg_cost) for s, p in books.positions.items())
    assert abs(books.nav - CAPITAL - (sum(realised.values()) + unrealised - books.account.commissions)) < CENT
    # Every accepted fill is in the ledger exactly once; orders carry their fills.
    async with ledger.conn.execute("SELECT venue, trade_id, COUNT(*) AS n FROM fills GROUP BY venue, trade_id") as cur:
        counts = {(r["venue"], r["trade_id"]): r["n"] for r in await cur.fetchall()}
    assert counts == {(f.venue, f.trade_id): 1 for f in model.fills}
    for order in model.orders:
        stored = await ledger.order(order.coid)
        assert stored is not None
        assert abs(stored.filled_qty - order.filled) < 1e-9
        assert stored.status == order.status


async def run(steps: list[tuple[Any, ...]], home: Path, *, durable: bool = True) -> None:
    path = home / "ledger.sqlite"
    ledger = await Ledger.open(path, durable=durable)
    await ledger.fund(CAPITAL, ts=T0)
    model = Model()
    trade = 0
    try:
        for n, step in enumerate(steps):
            ts = T0 + timedelta(minutes=n)
            kind = step[0]
            open_orders = [o for o in model.orders if o.filled < o.qty - 1e-9]
            if kind == "order":
                _, symbol, side, qty = step
                order = ModelOrder(f"O-{len(model.orders):05d}", symbol, side, qty)
                await ledger.insert_order(Order(order.coid, symbol, side, qty, "V1", ts, status="acknowledged"))
                model.orders.append(order)
            elif kind in ("fill", "fill_rest") and open_orders:
                order = open_orders[step[1] % len(open_orders)]
                remaining = order.qty - order.filled
                qty = remaining if kind == "fill_rest" else min(step[2], remaining)
                price, commission = (step[2], step[3]) if kind == "fill_rest" else (step[3], step[4])
                venue = step[5] if kind == "fill" else "V2"
                trade += 1
                fill = Fill(venue, f"T{trade}", order.coid, ts, order.symbol, order.side, qty, price, commission)
                assert await ledger.apply_fill(fill) is True
                model.apply(fill, order)
            elif kind == "redeliver" and model.fills:
                again = model.fills[step[1] % len(model.fills)]
                before = await snapshot(ledger)
                assert await ledger.apply_fill(again) is False
                assert await snapshot(ledger) == before
            elif kind == "conflict" and model.fills:
                first = model.fills[step[1] % len(model.fills)]
                other = Fill(first.venue, first.trade_id, first.client_order_id, first.ts, first.symbol, first.side,
                             first.qty, first.price + step[2], first.commission)  # fmt: skip
                before = await snapshot(ledger)
                with pytest.raises(FillRefused, match="other terms"):
                    await ledger.apply_fill(other)
                assert await snapshot(ledger) == before
            elif kind == "overfill" and model.orders:
                order = model.orders[step[1] % len(model.orders)]
                qty = order.qty - order.filled + step[2]
                fill = Fill("V1", f"X{n}", order.coid, ts, order.symbol, order.side, qty, step[3])
                before = await snapshot(ledger)
                with pytest.raises(FillRefused, match="over-fills"):
                    await ledger.apply_fill(fill)
                assert await snapshot(ledger) == before
            elif kind == "mark":
                await ledger.mark_prices(step[1], ts=ts)
                for symbol, price in step[1].items():
                    if symbol in model.qty:  # a position row exists once the symbol traded
                        model.last[symbol] = price
            elif kind == "cancel" and open_orders:
                order = open_orders[step[1] % len(open_orders)]
                await ledger.update_order(order.coid, ts=ts, status="cancelled", reason="test")
                order.status = "cancelled"
            elif kind == "reopen":
                await ledger.close()
                ledger = await Ledger.open(path, durable=durable)
            await check(ledger, model)
        assert await ledger.integrity_check() == "ok"
    finally:
        await ledger.close()


# Both connections: aiosqlite's worker thread (durable ledgers) and the inline one (throwaway ledgers).
@pytest.mark.parametrize("durable", [True, False], ids=["threaded", "inline"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_st, min_size=1, max_size=40))
def test_books_match_the_fills_to_the_cent(durable: bool, steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as home:
        asyncio.run(run(steps, Path(home), durable=durable))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(qty_st, price_st), min_size=2, max_size=8),
    st.lists(st.tuples(qty_st, price_st), min_size=2, max_size=8),
)
def test_long_to_short_flips_keep_the_identity(
    buys: list[tuple[float, float]], sells: list[tuple[float, float]]
) -> None:
    """Buy a block, then sell more than is held (a flip to short) and buy back: every fill twice."""
    steps: list[tuple[Any, ...]] = []
    for qty, price in buys:
        steps += [("order", "AAA", "buy", qty), ("fill_rest", 10_000, price, 0.01), ("redeliver", 10_000)]
    total = sum(q for q, _ in buys)
    steps += [("order", "AAA", "sell", total + sum(q for q, _ in sells))]
    for qty, price in sells:
        steps += [("fill", 10_000, qty, price, 0.0, "V1"), ("redeliver", 10_000)]
    steps += [("fill_rest", 10_000, sells[-1][1], 1.0), ("mark", {"AAA": buys[0][1]})]
    steps += [("order", "AAA", "buy", 1.0), ("fill_rest", 10_000, 5.0, 0.0), ("reopen",), ("redeliver", 0)]
    with tempfile.TemporaryDirectory(dir=SCRATCH) as home:
        asyncio.run(run(steps, Path(home)))
