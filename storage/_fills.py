"""Applying fills to the books inside an open transaction: the accounting rules in one place.

A batch of fills costs a fixed number of statements however many fills it holds: the known fills, the orders
and the positions they touch are read once, every effect is computed here in delivery order (the same
floating-point operations, in the same order, as one fill at a time), then written with one ``executemany`` per
table. A refused fill raises before anything is written, so the caller's transaction rolls back whole.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage import _rows as rows
from storage.records import ORDER_FINAL_STATUSES, Fill, Order, Position

QTY_EPSILON = 1e-9
_CHUNK = 300  # bound parameters per SELECT ... IN (...), well under SQLite's limit


class FillRefused(Exception):
    """A fill that cannot be applied (unknown order, over-fill, wrong side or symbol).

    ``index`` is the refused fill's position in the batch given to :func:`apply_fills` (0 for a single fill).
    """

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.index = index


@dataclass(slots=True)
class _OrderState:
    qty: float
    filled_qty: float
    avg_fill_price: float | None
    side: str
    symbol: str
    status: str
    touched: bool = False
    updated_at: str = ""


@dataclass(slots=True)
class _PositionState:
    qty: float
    avg_cost: float
    realised_pnl: float
    last_price: float | None = None
    touched: bool = False
    updated_at: str = ""


async def apply_fill(db: aiosqlite.Connection, fill: Fill) -> bool:
    """Insert ``fill`` and move order, position and cash. False (and no change) for a duplicate."""
    return (await apply_fills(db, [fill]))[0]


@dataclass(frozen=True, slots=True)
class Booked:
    """What a batch wrote to the books, as the ledger now stores it: every position it touched (closed ones at
    qty 0), the account's cash and commissions, and each order it moved as ``(filled_qty, avg_fill_price, status,
    updated_at as stored)``, and the fills it inserted. Lets the ledger keep its books, open orders and fill keys in
    memory across a batch."""

    positions: dict[str, Position]
    cash: float
    commissions: float
    orders: dict[str, tuple[float, float | None, str, str]]
    fills: list[tuple[str, str]]  # the (venue, trade id) of each fill inserted


@dataclass(frozen=True, slots=True)
class Held:
    """What the ledger holds in memory, as a read inside the transaction would give it, so a batch selects only the
    rest: open orders by client order id, open positions, and the account's (cash, commissions) when its row is
    known to exist (None: select it)."""

    order: Callable[[str], Order | None]
    positions: Mapping[str, Position]
    account: tuple[float, float] | None
    fill_keys: Container[tuple[str, str]] | None = None  # every fill's (venue, trade id) in the ledger, if known


async def apply_fills(db: aiosqlite.Connection, fills: Sequence[Fill]) -> list[bool]:
    """:func:`apply_fills_booked` without what was booked."""
    return (await apply_fills_booked(db, fills))[0]


async def apply_fills_booked(
    db: aiosqlite.Connection, fills: Sequence[Fill], held: Held | None = None
) -> tuple[list[bool], Booked | None]:
    """Apply ``fills`` in order; for each, True when applied, False for a duplicate (no change).

    A duplicate is a fill already in the ledger, or delivered earlier in the same batch, with the same terms.
    Positions use average cost; realised P&L is booked when a fill reduces or flips a position. Commission is
    paid from cash and counted apart from realised P&L.

    Raises:
        FillRefused: a fill names an unknown order, over-fills it, does not match its side or symbol, reuses a
            trade id for other terms, or the account is not funded. Nothing was written.
    """
    if not fills:
        return [], None
    keys = held.fill_keys if held is not None else None
    known = await _known_fills(db, fills if keys is None else [f for f in fills if (f.venue, f.trade_id) in keys])
    orders = await _orders(db, {f.client_order_id for f in fills}, held)
    found: dict[str, _PositionState] = {}
    symbols = sorted({f.symbol for f in fills})
    kept = held.positions if held is not None else {}
    for s in symbols:
        if (p := kept.get(s)) is not None:
            found[s] = _PositionState(p.qty, p.avg_cost, p.realised_pnl)
    for chunk in _chunks([s for s in symbols if s not in found]):  # closed (qty 0, realised kept) or never held
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            f"SELECT symbol, qty, avg_cost, realised_pnl FROM positions WHERE symbol IN ({marks})", chunk
        ) as cur:
            for r in await cur.fetchall():
                found[r["symbol"]] = _PositionState(r["qty"], r["avg_cost"], r["realised_pnl"])
    positions = {s: found[s] for s in symbols if s in found}  # in symbol order, as the SELECT of them all gave
    applied: list[bool] = []
    new_fills: list[tuple[Fill, str]] = []  # with its timestamp as stored
    cash_moves: list[tuple[float, float]] = []
    for index, fill in enumerate(fills):
        order = orders.get(fill.client_order_id)
        if order is None:
            raise FillRefused(f"fill {fill.venue}/{fill.trade_id} names unknown order {fill.client_order_id}", index)
        key = (fill.venue, fill.trade_id)
        if key in known:
            _check_same(known[key], fill, index)
            applied.append(False)
            continue
        if order.side != fill.side or order.symbol != fill.symbol:
            raise FillRefused(f"fill {fill.trade_id} does not match order {fill.client_order_id} side/symbol", index)
        filled = order.filled_qty + fill.qty
        if filled > order.qty + QTY_EPSILON:
            raise FillRefused(
                f"fill {fill.trade_id} over-fills order {fill.client_order_id}: {filled} > {order.qty}", index
            )
        when = rows.ts(fill.ts)
        order.avg_fill_price = ((order.avg_fill_price or 0.0) * order.filled_qty + fill.price * fill.qty) / filled
        order.filled_qty = filled
        if filled >= order.qty - QTY_EPSILON:
            order.status = "filled"
        elif order.status not in ORDER_FINAL_STATUSES:  # a fill done before a cancel landed stays closed
            order.status = "partially_filled"
        order.touched, order.updated_at = True, when
        _move_position(positions.setdefault(fill.symbol, _PositionState(0.0, 0.0, 0.0)), fill, when)
        signed = fill.qty if fill.side == "buy" else -fill.qty
        cash_moves.append((signed * fill.price + fill.commission, fill.commission))
        known[key] = fill
        new_fills.append((fill, when))
        applied.append(True)
    if not new_fills:
        return applied, None
    account = held.account if held is not None else None
    return applied, await _write(db, applied.index(True), new_fills, orders, positions, cash_moves, account)


async def _write(
    db: aiosqlite.Connection,
    first: int,
    new_fills: list[tuple[Fill, str]],
    orders: dict[str, _OrderState],
    positions: dict[str, _PositionState],
    cash_moves: list[tuple[float, float]],
    account: tuple[float, float] | None,
) -> Booked:
    if account is None:
        async with db.execute("SELECT cash, commissions FROM account WHERE id = 1") as cur:
            row = await cur.fetchone()
        if row is None:  # refused before anything is written
            raise FillRefused("the account is not funded: call Ledger.fund first", first)
        account = (row["cash"], row["commissions"])
    balance, commissions = account
    for moved, commission in cash_moves:  # the same subtraction, in the same order, as one fill at a time
        balance = balance - moved
        commissions = commissions + commission
    await db.executemany(
        "INSERT INTO fills (venue, trade_id, client_order_id, ts, symbol, side, qty, price, commission)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(f.venue, f.trade_id, f.client_order_id, when, f.symbol, f.side, f.qty, f.price, f.commission)
         for f, when in new_fills],
    )  # fmt: skip
    await db.executemany(
        "UPDATE orders SET filled_qty = ?, avg_fill_price = ?, status = ?, updated_at = ? WHERE client_order_id = ?",
        [(o.filled_qty, o.avg_fill_price, o.status, o.updated_at, coid) for coid, o in orders.items() if o.touched],
    )
    await db.executemany(
        "INSERT INTO positions (symbol, qty, avg_cost, realised_pnl, last_price, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty,"
        " avg_cost = excluded.avg_cost, realised_pnl = excluded.realised_pnl, last_price = excluded.last_price,"
        " updated_at = excluded.updated_at",
        [(s, p.qty, p.avg_cost, p.realised_pnl, p.last_price, p.updated_at) for s, p in positions.items() if p.touched],
    )
    await db.execute(
        "UPDATE account SET cash = ?, commissions = ?, updated_at = ? WHERE id = 1",
        (balance, commissions, new_fills[-1][1]),
    )
    touched = {  # float(): REAL columns give back floats, whatever was bound
        s: Position(s, float(p.qty), float(p.avg_cost), float(p.realised_pnl),
                    None if p.last_price is None else float(p.last_price))
        for s, p in positions.items() if p.touched
    }  # fmt: skip
    changed = {  # the same values as the UPDATE above binds, as the REAL columns give them back
        coid: (float(o.filled_qty), None if o.avg_fill_price is None else float(o.avg_fill_price), o.status,
               o.updated_at)
        for coid, o in orders.items() if o.touched
    }  # fmt: skip
    return Booked(touched, float(balance), float(commissions), changed, [(f.venue, f.trade_id) for f, _ in new_fills])


async def _known_fills(db: aiosqlite.Connection, fills: Sequence[Fill]) -> dict[tuple[str, str], Fill]:
    """The batch's fills already in the ledger, keyed by (venue, trade id)."""
    found: dict[tuple[str, str], Fill] = {}
    if not fills:
        return found
    by_venue: dict[str, set[str]] = {}
    for f in fills:
        by_venue.setdefault(f.venue, set()).add(f.trade_id)
    for venue, trade_ids in sorted(by_venue.items()):
        for chunk in _chunks(sorted(trade_ids)):
            marks = ",".join("?" * len(chunk))
            async with db.execute(
                "SELECT venue, trade_id, client_order_id, ts, symbol, side, qty, price, commission FROM fills"
                f" WHERE venue = ? AND trade_id IN ({marks})",
                (venue, *chunk),
            ) as cur:
                for r in await cur.fetchall():
                    found[(r["venue"], r["trade_id"])] = Fill(
                        r["venue"], r["trade_id"], r["client_order_id"], rows.req_ts(r["ts"]), r["symbol"],
                        r["side"], r["qty"], r["price"], r["commission"],
                    )  # fmt: skip
    return found


async def _orders(db: aiosqlite.Connection, client_order_ids: set[str], held: Held | None) -> dict[str, _OrderState]:
    found: dict[str, _OrderState] = {}
    if held is not None:
        for coid in sorted(client_order_ids):
            if (o := held.order(coid)) is not None:
                found[coid] = _OrderState(o.qty, o.filled_qty, o.avg_fill_price, o.side, o.symbol, o.status)
    for chunk in _chunks(sorted(client_order_ids - found.keys())):  # closed orders (or unknown ones)
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            "SELECT client_order_id, qty, filled_qty, avg_fill_price, side, symbol, status FROM orders"
            f" WHERE client_order_id IN ({marks})",
            chunk,
        ) as cur:
            for r in await cur.fetchall():
                found[r["client_order_id"]] = _OrderState(
                    r["qty"], r["filled_qty"], r["avg_fill_price"], r["side"], r["symbol"], r["status"]
                )
    return found


def _check_same(stored: Fill, fill: Fill, index: int) -> None:
    """A redelivered fill must be the same fill: a venue reusing a trade id for another trade would otherwise
    have that trade silently dropped from the books."""
    mine: tuple[Any, ...] = (stored.client_order_id, stored.ts, stored.symbol, stored.side, stored.qty,
                             stored.price, stored.commission)  # fmt: skip
    given = (fill.client_order_id, fill.ts, fill.symbol, fill.side, fill.qty, fill.price, fill.commission)
    if mine != given:
        raise FillRefused(
            f"fill {fill.venue}/{fill.trade_id} was applied before with other terms: {mine} != {given}", index
        )


def _move_position(position: _PositionState, fill: Fill, when: str) -> None:
    qty, avg, realised = position.qty, position.avg_cost, position.realised_pnl
    signed = fill.qty if fill.side == "buy" else -fill.qty
    new_qty = qty + signed
    if qty == 0 or (qty > 0) == (signed > 0):
        avg = (abs(qty) * avg + fill.qty * fill.price) / abs(new_qty)
    else:
        closed = min(fill.qty, abs(qty))
        realised += closed * (fill.price - avg) * (1 if qty > 0 else -1)
        if abs(new_qty) <= QTY_EPSILON:
            new_qty, avg = 0.0, 0.0
        elif (new_qty > 0) != (qty > 0):
            avg = fill.price  # the position flipped: the remainder was opened at this price
    position.qty, position.avg_cost, position.realised_pnl = new_qty, avg, realised
    position.last_price, position.touched, position.updated_at = fill.price, True, when


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]
