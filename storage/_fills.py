"""Applying one fill to the books inside an open transaction: the accounting rules in one place."""

from __future__ import annotations

import aiosqlite

from storage import _rows as rows
from storage.records import ORDER_FINAL_STATUSES, Fill

QTY_EPSILON = 1e-9


class FillRefused(Exception):
    """A fill that cannot be applied (unknown order, over-fill, wrong side or symbol)."""


async def apply_fill(db: aiosqlite.Connection, fill: Fill) -> bool:
    """Insert ``fill`` and move order, position and cash. False (and no change) for a duplicate.

    Positions use average cost; realised P&L is booked when a fill reduces or flips a position.
    Commission is paid from cash and counted apart from realised P&L.
    """
    async with db.execute(
        "SELECT qty, filled_qty, avg_fill_price, side, symbol, status FROM orders WHERE client_order_id = ?",
        (fill.client_order_id,),
    ) as cur:
        order = await cur.fetchone()
    if order is None:
        raise FillRefused(f"fill {fill.venue}/{fill.trade_id} names unknown order {fill.client_order_id}")
    inserted = await db.execute(
        "INSERT OR IGNORE INTO fills (venue, trade_id, client_order_id, ts, symbol, side, qty, price, commission)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fill.venue,
            fill.trade_id,
            fill.client_order_id,
            rows.ts(fill.ts),
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
            fill.commission,
        ),
    )
    if inserted.rowcount != 1:
        await _check_same(db, fill)
        return False
    if order["side"] != fill.side or order["symbol"] != fill.symbol:
        raise FillRefused(f"fill {fill.trade_id} does not match order {fill.client_order_id} side/symbol")
    filled = order["filled_qty"] + fill.qty
    if filled > order["qty"] + QTY_EPSILON:
        raise FillRefused(f"fill {fill.trade_id} over-fills order {fill.client_order_id}: {filled} > {order['qty']}")
    avg = ((order["avg_fill_price"] or 0.0) * order["filled_qty"] + fill.price * fill.qty) / filled
    if filled >= order["qty"] - QTY_EPSILON:
        status = "filled"
    elif order["status"] in ORDER_FINAL_STATUSES:
        status = order["status"]  # a fill done before a cancel landed: booked, but the order stays closed
    else:
        status = "partially_filled"
    when = rows.ts(fill.ts)
    await db.execute(
        "UPDATE orders SET filled_qty = ?, avg_fill_price = ?, status = ?, updated_at = ? WHERE client_order_id = ?",
        (filled, avg, status, when, fill.client_order_id),
    )
    await _move_position(db, fill, when)
    signed = fill.qty if fill.side == "buy" else -fill.qty
    cash = await db.execute(
        "UPDATE account SET cash = cash - ?, commissions = commissions + ?, updated_at = ? WHERE id = 1",
        (signed * fill.price + fill.commission, fill.commission, when),
    )
    if cash.rowcount != 1:
        raise FillRefused("the account is not funded: call Ledger.fund first")
    return True


async def _check_same(db: aiosqlite.Connection, fill: Fill) -> None:
    """A redelivered fill must be the same fill: a venue reusing a trade id for another trade would otherwise
    have that trade silently dropped from the books."""
    async with db.execute(
        "SELECT client_order_id, ts, symbol, side, qty, price, commission FROM fills WHERE venue = ? AND trade_id = ?",
        (fill.venue, fill.trade_id),
    ) as cur:
        row = await cur.fetchone()
    stored = (*row[:1], rows.req_ts(row[1]), *row[2:]) if row is not None else None
    given = (fill.client_order_id, fill.ts, fill.symbol, fill.side, fill.qty, fill.price, fill.commission)
    if stored != given:
        raise FillRefused(f"fill {fill.venue}/{fill.trade_id} was applied before with other terms: {stored} != {given}")


async def _move_position(db: aiosqlite.Connection, fill: Fill, when: str) -> None:
    async with db.execute("SELECT qty, avg_cost, realised_pnl FROM positions WHERE symbol = ?", (fill.symbol,)) as cur:
        row = await cur.fetchone()
    qty, avg, realised = (row["qty"], row["avg_cost"], row["realised_pnl"]) if row else (0.0, 0.0, 0.0)
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
    await db.execute(
        "INSERT INTO positions (symbol, qty, avg_cost, realised_pnl, last_price, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty,"
        " avg_cost = excluded.avg_cost, realised_pnl = excluded.realised_pnl, last_price = excluded.last_price,"
        " updated_at = excluded.updated_at",
        (fill.symbol, new_qty, avg, realised, fill.price, when),
    )
