"""The SQLite ledger: runtime state, incidents, sign-offs, processed message ids, orders, fills and books.

One :class:`Ledger` per process is the single writer. Every method that changes state runs in one
``BEGIN IMMEDIATE`` transaction, so a crash leaves either all of a change or none of it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any, Self

import aiosqlite

from storage import _orders
from storage import _rows as rows
from storage._fills import Booked, Held, apply_fill, apply_fills_booked
from storage._fills import FillRefused as FillRefused  # re-exported: callers of apply_fill catch it
from storage._inline import InlineConnection
from storage._memo import (
    BOOKS,
    FILLS,
    NAV,
    ORDERS,
    FillKeys,
    NavMemo,
    OrdersMemo,
    Stamp,
    Stamps,
    Write,
    Writer,
    kv_area,
)
from storage._orders import Documents
from storage.db import connect
from storage.records import (
    ORDER_OPEN_STATUSES,
    Account,
    Books,
    Fill,
    Incident,
    NavPoint,
    Order,
    Position,
    SignOff,
    StateRecord,
    Transition,
)

_OPEN = ",".join(f"'{s}'" for s in ORDER_OPEN_STATUSES)


def marked_books(books: Books, prices: Mapping[str, float | None]) -> Books:
    """``books`` with its positions marked at ``prices`` (what :meth:`Ledger.mark_books` writes)."""
    positions = {  # a Position built, not dataclasses.replace (which costs several times more)
        s: Position(p.symbol, p.qty, p.avg_cost, p.realised_pnl, prices[s]) if s in prices else p
        for s, p in books.positions.items()
    }
    return Books(books.account, positions)


def _as_stored(prices: Mapping[str, float]) -> Mapping[str, float | None]:
    """``prices`` as the REAL column gives them back: floats (an int or a numpy float is bound as its value), a NaN
    as NULL. The usual marks (floats from ``tolist``) are returned as they are."""
    if all(type(v) is float and v == v for v in prices.values()):
        return prices
    return {s: None if v != v else float(v) for s, v in prices.items()}


def _books_after(books: Books, booked: Booked) -> Books:
    """``books`` with a fill batch's changes: what :meth:`Ledger.books` would read back (open positions only, in
    symbol order)."""
    positions = dict(books.positions)
    for symbol, position in booked.positions.items():
        if position.qty != 0:
            positions[symbol] = position
        else:
            positions.pop(symbol, None)
    account = Account(booked.cash, books.account.initial_capital, booked.commissions)
    return Books(account, dict(sorted(positions.items())))


def _no_order(client_order_id: str) -> Order | None:
    return None


class LedgerError(Exception):
    """A change the ledger refuses (unknown order, over-fill, bad transition record)."""


class Ledger:
    """Async access to ``ledger.sqlite``. Use :meth:`open`; close with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, *, readonly: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = asyncio.Lock()
        # The single writer knows every change: reads of hot documents (books, open orders, kv documents, NAV
        # history) are served from memory until a write touches what they were read from (see _Write). A reader
        # beside another process's writer never caches.
        self._stamps = Stamps()
        self._writer = Writer(conn, self._lock, self._stamps, isinstance(conn, InlineConnection), self._rollback)
        self._cache: dict[Hashable, tuple[Stamp, Any]] = {}
        self._navs = NavMemo(self._stamps)
        self._open = OrdersMemo(self._stamps)
        self._fill_keys = FillKeys(self._stamps)

    @classmethod
    async def open(cls, path: Path, *, readonly: bool = False, durable: bool = True) -> Self:
        """Open (and migrate) the ledger; ``readonly`` reads an existing one beside its writer; ``durable=False``
        only for throwaway runs (see :func:`storage.db.connect`)."""
        return cls(await connect(path, readonly=readonly, durable=durable), path, readonly=readonly)

    def _cached(self, area: Hashable, key: Hashable) -> Any:
        hit = self._cache.get(key)
        return hit[1] if hit is not None and hit[0] == self._stamps.of(area) and not self.readonly else None

    def _remember(self, key: Hashable, stamp: Stamp, value: Any) -> None:
        if not self.readonly:
            self._cache[key] = (stamp, value)

    async def close(self) -> None:
        await self.conn.close()

    def transaction(self, areas: Iterable[Hashable] | None = None) -> Write:
        """One write transaction (``async with``); the lock keeps concurrent coroutines from interleaving theirs.

        ``areas`` names what it may change (:data:`BOOKS`, :data:`ORDERS`, :data:`NAV`, ``("kv", namespace,
        key)``); None, the default, anything: documents held in memory that were read from an area are dropped.
        """
        return Write(self._writer, None if areas is None else tuple(areas))

    def _remember_documents(self, written: Mapping[tuple[str, str], str]) -> None:
        for (namespace, key), raw in written.items():
            area = kv_area(namespace, key)
            self._remember(area, self._stamps.of(area), raw)

    async def _rollback(self) -> None:
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    # -- runtime state -------------------------------------------------------------------------------
    async def state(self) -> StateRecord | None:
        row = await self._one("SELECT * FROM runtime_state WHERE id = 1")
        return rows.state(row) if row else None

    async def record_transition(
        self,
        to_state: str,
        *,
        reason: str,
        actor: str,
        ts: datetime,
        run_id: str,
        incident: Incident | None = None,
        close_incident: tuple[str, str] | None = None,
        signoff: SignOff | None = None,
    ) -> Transition:
        """Persist a state change, with the incident it opens or closes and the sign-off that allowed it."""
        async with self.transaction(()) as db:
            current = await self.state()
            from_state = current.state if current else "NONE"
            incident_id = incident.id if incident else (current.incident_id if current else None)
            if close_incident is not None:
                incident_id = None
            if incident is not None:
                await self._insert_incident(db, incident)
            if close_incident is not None:
                closed = await db.execute(
                    "UPDATE incidents SET status='closed', closed_at=?, closed_by=? WHERE id=? AND status='open'",
                    (rows.ts(ts), close_incident[1], close_incident[0]),
                )
                if closed.rowcount != 1:
                    raise LedgerError(f"incident {close_incident[0]} is not open")
            if signoff is not None:
                await self._insert_signoff(db, signoff)
            cur = await db.execute(
                "INSERT INTO transitions (ts, from_state, to_state, reason, actor, incident_id, run_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rows.ts(ts), from_state, to_state, reason, actor, incident_id, run_id),
            )
            seq = int(cur.lastrowid or 0)
            await db.execute(
                "INSERT INTO runtime_state (id, state, reason, actor, since, incident_id, seq)"
                " VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state=excluded.state,"
                " reason=excluded.reason, actor=excluded.actor, since=excluded.since,"
                " incident_id=excluded.incident_id, seq=excluded.seq",
                (to_state, reason, actor, rows.ts(ts), incident_id, seq),
            )
        return Transition(seq, ts, from_state, to_state, reason, actor, incident_id, run_id)

    async def transitions(self, limit: int = 100) -> list[Transition]:
        found = await self._all("SELECT * FROM transitions ORDER BY seq DESC LIMIT ?", (limit,))
        return [rows.transition(r) for r in reversed(found)]

    # -- incidents and sign-offs ---------------------------------------------------------------------
    @staticmethod
    async def _insert_incident(db: aiosqlite.Connection, incident: Incident) -> None:
        await db.execute(
            "INSERT INTO incidents (id, opened_at, source, reason, payload, status, run_id)"
            " VALUES (?, ?, ?, ?, ?, 'open', ?)",
            (
                incident.id,
                rows.ts(incident.opened_at),
                incident.source,
                incident.reason,
                json.dumps(incident.payload, sort_keys=True),
                incident.run_id,
            ),
        )

    @staticmethod
    async def _insert_signoff(db: aiosqlite.Connection, s: SignOff) -> None:
        await db.execute(
            "INSERT INTO signoffs (ts, incident_id, operator, approver, reason, accepted, refusal)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rows.ts(s.ts), s.incident_id, s.operator, s.approver, s.reason, int(s.accepted), s.refusal),
        )

    async def incident(self, incident_id: str) -> Incident | None:
        row = await self._one("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return rows.incident(row) if row else None

    async def incidents(self, *, status: str | None = None, limit: int = 100) -> list[Incident]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        found = await self._all(f"SELECT * FROM incidents {where} ORDER BY opened_at DESC LIMIT ?", [*params, limit])
        return [rows.incident(r) for r in found]

    async def add_incident_trigger(self, incident_id: str, trigger: dict[str, Any]) -> None:
        """Append a further kill-switch trigger to an open incident (a halt is never opened twice)."""
        async with self.transaction(()) as db:
            row = await self._one("SELECT payload FROM incidents WHERE id = ?", (incident_id,))
            if row is None:
                raise LedgerError(f"no incident {incident_id}")
            payload = json.loads(row["payload"])
            payload.setdefault("further_triggers", []).append(trigger)
            await db.execute(
                "UPDATE incidents SET payload = ? WHERE id = ?",
                (json.dumps(payload, sort_keys=True), incident_id),
            )

    async def record_signoff(self, signoff: SignOff) -> None:
        async with self.transaction(()) as db:
            await self._insert_signoff(db, signoff)

    async def signoffs(self, incident_id: str | None = None, limit: int = 100) -> list[SignOff]:
        where, params = ("WHERE incident_id = ?", [incident_id]) if incident_id else ("", [])
        found = await self._all(f"SELECT * FROM signoffs {where} ORDER BY seq DESC LIMIT ?", [*params, limit])
        return [rows.signoff(r) for r in reversed(found)]

    # -- deduplication -------------------------------------------------------------------------------
    async def claim_message(self, consumer: str, message_id: str, ts: datetime) -> bool:
        """True the first time ``consumer`` sees ``message_id``; False for a duplicate (QoS 1 redelivery)."""
        async with self.transaction(()) as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO processed_messages (consumer, message_id, ts) VALUES (?, ?, ?)",
                (consumer, message_id, rows.ts(ts)),
            )
            return cur.rowcount == 1

    # -- orders --------------------------------------------------------------------------------------
    async def next_order_number(self) -> int:
        """A durable counter: client order ids stay unique across restarts."""
        return (await self.reserve_order_numbers(1))[0]

    async def reserve_order_numbers(self, count: int) -> list[int]:
        """``count`` consecutive numbers of the same durable counter, in one transaction (one fsync for all the
        orders of a tick instead of one each). Numbers reserved and not used are simply skipped."""
        async with self.transaction(()) as db:
            return await _orders.reserve_numbers(db, count)

    async def insert_order(self, order: Order) -> None:
        """Persist an order before it is sent. A second insert of the same client order id is refused."""
        try:
            async with self.transaction((ORDERS,)) as db:
                await _orders.insert_orders(db, [order])
        except aiosqlite.IntegrityError as exc:
            raise LedgerError(f"order {order.client_order_id} refused: {exc}") from None

    async def update_order(self, client_order_id: str, *, ts: datetime, **changes: Any) -> Order:
        if why := _orders.check_changes({client_order_id: changes}):
            raise LedgerError(why)
        async with self.transaction((ORDERS,)) as db:
            if await _orders.update_orders(db, {client_order_id: changes}, ts) != 1:
                raise LedgerError(f"no order {client_order_id}")
        found = await self.order(client_order_id)
        assert found is not None
        return found

    async def insert_new_orders(
        self, count: int, build: Callable[[list[int]], tuple[Sequence[Order], Documents]], *, ts: datetime
    ) -> list[Order]:
        """Reserve ``count`` numbers of the durable order counter and persist the orders ``build`` makes of them,
        with its kv documents, in one transaction: a tick's orders cost one fsync before any is sent.

        ``build`` is called inside the transaction and must not touch the ledger. A client order id already
        present refuses the whole batch (:class:`LedgerError`).
        """
        write = self.transaction((ORDERS,))
        before = self._stamps.of(ORDERS)
        try:
            async with write as db:
                orders, documents = build(await _orders.reserve_numbers(db, count))
                write.touch(kv_area(*key) for key in documents)
                await _orders.insert_orders(db, orders)
                written = await _orders.put_documents(db, documents, ts)
        except aiosqlite.IntegrityError as exc:
            raise LedgerError(f"orders refused: {exc}") from None
        self._remember_documents(written)
        self._open.inserted(orders, before)
        return list(orders)

    async def update_orders(
        self, updates: Mapping[str, Mapping[str, Any]], *, ts: datetime, documents: Documents | None = None
    ) -> None:
        """Change several orders (fields as :meth:`update_order` takes them) and write kv documents, in one
        transaction; an unknown client order id refuses the whole batch (:class:`LedgerError`)."""
        if why := _orders.check_changes(updates):
            raise LedgerError(why)
        documents = documents or {}
        before = self._stamps.of(ORDERS)
        async with self.transaction((ORDERS, *(kv_area(*key) for key in documents))) as db:
            if await _orders.update_orders(db, updates, ts) != len(updates):
                raise LedgerError(f"not every order of {sorted(updates)} is in the ledger")
            written = await _orders.put_documents(db, documents, ts)
        self._remember_documents(written)
        self._open.updated(updates, ts, before)

    async def order(self, client_order_id: str) -> Order | None:
        row = await self._one("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
        return rows.order(row) if row else None

    async def open_orders(self) -> list[Order]:
        """The open orders by priority, then creation (orders alike: by status, then as inserted)."""
        if not self.readonly and (kept := self._open.get()) is not None:
            return list(kept)
        stamp = self._stamps.of(ORDERS)
        # status, rowid: the order SQLite gave orders alike when they were not named (the status index's order,
        # sorted stably); named, so the orders kept in memory can follow each write in the same order.
        found = await self._all(
            f"SELECT rowid AS n, * FROM orders WHERE status IN ({_OPEN}) ORDER BY priority, created_at, status, rowid"
        )
        result = [(int(r["n"]), rows.order(r)) for r in found]
        if not self.readonly:
            self._open.put(result, stamp)
        return [o for _, o in result]

    async def orders(self, *, limit: int = 200, tick_id: str | None = None) -> list[Order]:
        where, params = ("WHERE tick_id = ?", [tick_id]) if tick_id else ("", [])
        found = await self._all(f"SELECT * FROM orders {where} ORDER BY created_at DESC LIMIT ?", [*params, limit])
        return [rows.order(r) for r in found]

    async def cancel_open_orders(self, *, reason: str, ts: datetime) -> list[Order]:
        """Mark every open order cancelled in one transaction; returns the orders it cancelled."""
        before = self._stamps.of(ORDERS)
        async with self.transaction((ORDERS,)) as db:
            found = await self._all(f"SELECT * FROM orders WHERE status IN ({_OPEN})")
            await db.execute(
                f"UPDATE orders SET status = 'cancelled', reason = ?, updated_at = ? WHERE status IN ({_OPEN})",
                (reason, rows.ts(ts)),
            )
        self._open.cancelled_all(before)
        return [replace(rows.order(r), status="cancelled", reason=reason, updated_at=ts) for r in found]

    # -- fills and books -----------------------------------------------------------------------------
    async def apply_fill(self, fill: Fill) -> bool:
        """Apply a fill once: order, position and cash change in one transaction. False for a duplicate."""
        async with self.transaction((ORDERS, BOOKS, FILLS)) as db:
            return await apply_fill(db, fill)

    async def apply_fills(
        self, fills: Sequence[Fill], *, ts: datetime, documents: Documents | None = None
    ) -> list[bool]:
        """Apply a batch of fills (each once: True applied, False a duplicate, also one repeated within the batch)
        and write kv documents, in one transaction.

        Raises:
            FillRefused: a fill cannot be applied (its ``index`` says which); nothing of the batch was written.
        """
        documents = documents or {}
        books: Books | None = self._cached(BOOKS, "books")
        funded = self._cached(BOOKS, "funded") is True
        kept = self._open.lookup() if self._open.get() is not None else None
        keys = self._fill_keys.get()
        before, orders, fills_before = self._stamps.of(BOOKS), self._stamps.of(ORDERS), self._stamps.of(FILLS)
        async with self.transaction((ORDERS, BOOKS, FILLS, *(kv_area(*key) for key in documents))) as db:
            # What was in memory before the transaction is what it reads while no other write came between.
            books_held = books is not None and self._stamps.began(BOOKS, before)
            if self.readonly or self._fill_keys.many or not self._stamps.began(FILLS, fills_before):
                keys = None
            elif keys is None:  # once a process (and after a write that did not say what it touched)
                keys = {(r[0], r[1]) for r in await self._all("SELECT venue, trade_id FROM fills")}
                if not self._fill_keys.put(keys, fills_before):
                    keys = None
            held = Held(
                kept if kept is not None and self._stamps.began(ORDERS, orders) else _no_order,
                books.positions if books is not None and books_held else {},
                (books.account.cash, books.account.commissions)
                if books is not None and books_held and funded
                else None,
                keys,
            )
            applied, booked = await apply_fills_booked(db, fills, held)
            written = await _orders.put_documents(db, documents, ts)
        self._remember_documents(written)
        if keys is not None:
            self._fill_keys.added(booked.fills if booked is not None else (), fills_before)
        self._open.filled(booked.orders if booked is not None else {}, orders)
        if books is not None and self._stamps.alone(BOOKS, before):  # no other write came
            self._remember("books", self._stamps.of(BOOKS), _books_after(books, booked) if booked else books)
            if funded or booked is not None:  # its row was read or written
                self._remember("funded", self._stamps.of(BOOKS), True)
        return applied

    async def fills(self, *, client_order_id: str | None = None, limit: int = 500) -> list[Fill]:
        where, params = ("WHERE client_order_id = ?", [client_order_id]) if client_order_id else ("", [])
        found = await self._all(f"SELECT * FROM fills {where} ORDER BY ts DESC, rowid DESC LIMIT ?", [*params, limit])
        return [_fill(r) for r in reversed(found)]

    async def fills_after(self, rowid: int = 0) -> tuple[int, list[Fill]]:
        """Fills stored after the one at ``rowid`` (0: all) in the order they were stored, and the rowid to pass
        next time: a reader that follows the fills pays for the new ones only (fills are never deleted)."""
        found = await self._all("SELECT rowid AS n, * FROM fills WHERE rowid > ? ORDER BY rowid", (rowid,))
        return (int(found[-1]["n"]) if found else rowid), [_fill(r) for r in found]

    async def fund(self, capital: float, *, ts: datetime) -> None:
        """Open the account with ``capital`` if it has none yet."""
        async with self.transaction((BOOKS,)) as db:
            await db.execute(
                "INSERT OR IGNORE INTO account (id, cash, initial_capital, commissions, updated_at)"
                " VALUES (1, ?, ?, 0, ?)",
                (capital, capital, rows.ts(ts)),
            )

    async def mark_prices(self, prices: dict[str, float], *, ts: datetime) -> None:
        async with self.transaction((BOOKS,)) as db:
            await db.executemany(
                "UPDATE positions SET last_price = ?, updated_at = ? WHERE symbol = ?",
                [(p, rows.ts(ts), s) for s, p in prices.items()],
            )

    async def mark_books(self, prices: Mapping[str, float], *, ts: datetime, nav: NavPoint | None = None) -> None:
        """:meth:`mark_prices` and :meth:`record_nav` in one transaction; the books in memory stay valid, marked."""
        books: Books | None = self._cached(BOOKS, "books")
        funded = self._cached(BOOKS, "funded") is True
        before, navs = self._stamps.of(BOOKS), self._stamps.of(NAV)
        async with self.transaction((BOOKS, NAV) if nav is not None else (BOOKS,)) as db:
            if prices:
                when = rows.ts(ts)
                await db.executemany(
                    "UPDATE positions SET last_price = ?, updated_at = ? WHERE symbol = ?",
                    [(p, when, s) for s, p in prices.items()],
                )
            if nav is not None:
                await self._insert_nav(db, nav)
        if books is not None and self._stamps.alone(BOOKS, before):  # no other write came between
            self._remember(
                "books", self._stamps.of(BOOKS), marked_books(books, _as_stored(prices)) if prices else books
            )
            if funded:
                self._remember("funded", self._stamps.of(BOOKS), True)
        if nav is not None:
            self._navs.written(nav, navs)

    async def books(self) -> Books:
        """Cash and positions now. Each call returns its own ``positions`` dict (callers may change it)."""
        cached: Books | None = self._cached(BOOKS, "books")
        if cached is not None:
            return Books(cached.account, dict(cached.positions))
        stamp = self._stamps.of(BOOKS)
        acct = await self._one("SELECT * FROM account WHERE id = 1")
        account = Account(acct["cash"], acct["initial_capital"], acct["commissions"]) if acct else Account(0.0, 0.0)
        found = await self._all("SELECT * FROM positions WHERE qty != 0 ORDER BY symbol")
        positions: dict[str, Position] = {r["symbol"]: rows.position(r) for r in found}
        self._remember("books", stamp, Books(account, positions))
        if acct:
            self._remember("funded", stamp, True)  # the account's row exists: a fill batch need not select it
        return Books(account, dict(positions))

    # -- NAV history -----------------------------------------------------------------------------------
    async def record_nav(self, point: NavPoint) -> None:
        before = self._stamps.of(NAV)
        async with self.transaction((NAV,)) as db:
            await self._insert_nav(db, point)
        self._navs.written(point, before)

    @staticmethod
    async def _insert_nav(db: aiosqlite.Connection, point: NavPoint) -> None:
        await db.execute(
            "INSERT OR REPLACE INTO nav_history (ts, session, tick_id, nav, cash, gross_exposure, net_exposure)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                rows.ts(point.ts),
                point.session,
                point.tick_id,
                point.nav,
                point.cash,
                point.gross_exposure,
                point.net_exposure,
            ),
        )

    async def nav_history(self, *, since_session: str | None = None, limit: int = 10_000) -> list[NavPoint]:
        """NAV points in time order (optionally from a session date, ISO ``YYYY-MM-DD``, on)."""
        since = since_session or None
        if not self.readonly and (kept := self._navs.get(since, limit)) is not None:
            return [p for _, p in kept]
        stamp = self._stamps.of(NAV)
        where, params = ("WHERE session >= ?", [since_session]) if since_session else ("", [])
        found = await self._all(
            f"SELECT * FROM (SELECT * FROM nav_history {where} ORDER BY session DESC, ts DESC LIMIT ?)"
            " ORDER BY session, ts",
            [*params, limit],
        )
        points = [
            (
                (r["session"], r["ts"]),
                NavPoint(rows.req_ts(r["ts"]), r["session"], r["nav"], r["cash"], r["gross_exposure"],
                         r["net_exposure"], r["tick_id"]),
            )
            for r in found
        ]  # fmt: skip
        if not self.readonly:
            self._navs.put(since, limit, points, stamp)
        return [p for _, p in points]

    # -- decision trace ---------------------------------------------------------------------------------
    async def record_decisions(self, rows_: Sequence[tuple[str, str, str, str, dict[str, Any] | str]]) -> None:
        """Store (tick_id, session, symbol, outcome, record) rows in one transaction. A record is a document or
        its JSON text already encoded (as ``json.dumps(record, sort_keys=True, default=str)`` would)."""
        if not rows_:
            return
        found = [(t, s, sym, o, r if isinstance(r, str) else _decision_json(r)) for t, s, sym, o, r in rows_]
        whole = len(found) - len(found) % _DECISIONS_BATCH
        async with self.transaction(()) as db:
            # Batches of rows in one statement (a third less work than a statement a row); the rest a row at a time, so
            # only two statements are ever prepared. Rows go in in order, as with executemany.
            for at in range(0, whole, _DECISIONS_BATCH):
                await db.execute(_INSERT_DECISIONS_BATCH, list(chain.from_iterable(found[at : at + _DECISIONS_BATCH])))
            if whole < len(found):
                await db.executemany(_INSERT_DECISIONS + _DECISION_VALUES, found[whole:])

    async def decisions(
        self, *, tick_id: str | None = None, symbol: str | None = None, session: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Trace records, newest first, filtered by tick, symbol and/or session date (ISO)."""
        if symbol is not None and tick_id is None and session is None:
            return await self._symbol_decisions(symbol, limit)
        clauses, params = [], []
        for column, value in (("tick_id", tick_id), ("symbol", symbol), ("session", session)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        found = await self._all(
            f"SELECT record FROM decisions {where} ORDER BY session DESC, tick_id DESC, symbol LIMIT ?",
            [*params, limit],
        )
        return [json.loads(r["record"]) for r in found]

    async def _symbol_decisions(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        """One symbol's records, newest first: session by session down the (session, symbol) index, two seeks a
        session, so a symbol seen rarely (or never) costs a walk over the sessions, not a scan of the trace."""
        found: list[dict[str, Any]] = []
        before: str | None = None
        while limit < 0 or len(found) < limit:  # a negative limit is none, as SQL's LIMIT has it
            row = await self._one(
                "SELECT MAX(session) AS s FROM decisions" + (" WHERE session < ?" if before is not None else ""),
                () if before is None else (before,),
            )
            if row is None or row["s"] is None:
                break
            before = str(row["s"])
            rows_ = await self._all(
                "SELECT record FROM decisions WHERE session = ? AND symbol = ? ORDER BY tick_id DESC LIMIT ?",
                (before, symbol, limit - len(found) if limit >= 0 else -1),
            )
            found.extend(json.loads(r["record"]) for r in rows_)
        return found

    # -- small persistent documents (tracker weights, agent state) -------------------------------------
    async def put_json(self, namespace: str, key: str, value: Any, *, ts: datetime) -> None:
        await self.put_json_text(namespace, key, json.dumps(value, sort_keys=True), ts=ts)

    async def put_json_text(self, namespace: str, key: str, text: str, *, ts: datetime) -> None:
        """:meth:`put_json` of a document its owner encoded (a big one written every tick, with a faster encoder)."""
        async with self.transaction((kv_area(namespace, key),)) as db:
            await db.execute(
                "INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)",
                (namespace, key, text, rows.ts(ts)),
            )
        self._remember_documents({(namespace, key): text})

    async def get_json(self, namespace: str, key: str) -> Any:
        """The stored document (a fresh object on every call: callers may change it)."""
        area = kv_area(namespace, key)
        raw: str | None = self._cached(area, area)
        if raw is None:
            stamp = self._stamps.of(area)
            row = await self._one("SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
            raw = row["value"] if row else "null"
            self._remember(area, stamp, raw)
        return json.loads(raw)

    # -- audit head and integrity --------------------------------------------------------------------
    async def set_audit_head(self, seq: int, digest: str) -> None:
        async with self.transaction(()) as db:
            await db.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )

    async def audit_head(self) -> tuple[int, str] | None:
        row = await self._one("SELECT seq, hash FROM audit_head WHERE id = 1")
        return (int(row["seq"]), str(row["hash"])) if row else None

    async def integrity_check(self) -> str:
        row = await self._one("PRAGMA quick_check")
        return str(row[0]) if row else "no answer"


_decision_json = json.JSONEncoder(sort_keys=True, default=str).encode
_INSERT_DECISIONS = "INSERT OR REPLACE INTO decisions (tick_id, session, symbol, outcome, record) VALUES "
_DECISION_VALUES = "(?, ?, ?, ?, ?)"
_DECISIONS_BATCH = 32  # 160 parameters a statement: within SQLite's oldest limit (999)
_INSERT_DECISIONS_BATCH = _INSERT_DECISIONS + ", ".join([_DECISION_VALUES] * _DECISIONS_BATCH)


def _fill(r: sqlite3.Row) -> Fill:
    return Fill(
        r["venue"],
        r["trade_id"],
        r["client_order_id"],
        rows.req_ts(r["ts"]),
        r["symbol"],
        r["side"],
        r["qty"],
        r["price"],
        r["commission"],
    )
