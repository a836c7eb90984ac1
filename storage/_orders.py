"""Order rows and small documents written in batches inside an open transaction (see :class:`storage.ledger.Ledger`).

Each helper costs one or two statements however many rows it writes: a tick's orders are persisted, and their
acknowledgements recorded, in one transaction each rather than one per order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from storage import _rows as rows
from storage.records import Order

ORDER_CHANGES = frozenset({"status", "venue", "broker_order_id", "attempts", "reason"})
Documents = Mapping[tuple[str, str], Any]  # (namespace, key) -> a JSON document for the kv table
_encode = json.JSONEncoder(sort_keys=True).encode  # json.dumps(value, sort_keys=True), without an encoder a call


async def reserve_numbers(db: aiosqlite.Connection, count: int) -> list[int]:
    """``count`` consecutive numbers of the durable order counter."""
    if count < 1:
        raise ValueError("reserve at least one order number")
    await db.execute("INSERT OR IGNORE INTO order_seq (id, next) VALUES (1, 1)")
    async with db.execute("SELECT next FROM order_seq WHERE id = 1") as cur:
        row = await cur.fetchone()
    first = int(row["next"]) if row else 1
    await db.execute("UPDATE order_seq SET next = ? WHERE id = 1", (first + count,))
    return list(range(first, first + count))


async def insert_orders(db: aiosqlite.Connection, orders: Sequence[Order]) -> None:
    """Insert new order rows (a client order id already present raises :class:`sqlite3.IntegrityError`)."""
    await db.executemany(
        "INSERT INTO orders (client_order_id, created_at, updated_at, tick_id, symbol, side, qty,"
        " limit_price, status, venue, broker_order_id, strategy, priority, attempts, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (o.client_order_id, rows.ts(o.created_at), rows.ts(o.created_at), o.tick_id, o.symbol, o.side, o.qty,
             o.limit_price, o.status, o.venue, o.broker_order_id, o.strategy, o.priority, o.attempts, o.reason)
            for o in orders
        ],
    )  # fmt: skip


def check_changes(updates: Mapping[str, Mapping[str, Any]]) -> str:
    """Why ``updates`` cannot be applied ('' when they can)."""
    bad = sorted({k for changes in updates.values() for k in changes} - ORDER_CHANGES)
    return f"cannot update order fields {bad}" if bad else ""


async def update_orders(db: aiosqlite.Connection, updates: Mapping[str, Mapping[str, Any]], ts: datetime) -> int:
    """Change each order's fields (one ``executemany`` per set of fields changed); returns the rows updated."""
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    when = rows.ts(ts)
    for coid, changes in updates.items():
        fields = tuple(sorted(changes))
        groups.setdefault(fields, []).append((*(changes[f] for f in fields), when, coid))
    updated = 0
    for fields, params in groups.items():
        sets = "".join(f"{f} = ?, " for f in fields)
        cur = await db.executemany(f"UPDATE orders SET {sets}updated_at = ? WHERE client_order_id = ?", params)
        updated += cur.rowcount
    return updated


async def put_documents(db: aiosqlite.Connection, documents: Documents, ts: datetime) -> dict[tuple[str, str], str]:
    """Write kv documents; returns their stored JSON by (namespace, key)."""
    raw = {key: _encode(value) for key, value in documents.items()}
    if raw:
        when = rows.ts(ts)
        await db.executemany(
            "INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)",
            [(ns, key, value, when) for (ns, key), value in raw.items()],
        )
    return raw
