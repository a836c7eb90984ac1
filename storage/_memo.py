"""What the ledger's single writer keeps in memory, and when it stops trusting it.

Every write transaction says what it may change (an area: the books, the orders, the NAV history, one kv
document; or, by default, anything). A document read from the ledger is kept with the stamp of its area and
served while no write has touched that area since, so a tick's trace or a tracker document no longer makes the
books and the open orders be read again. The NAV history answers kept are followed through each point written.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable, Coroutine, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import aiosqlite

from storage import _rows as rows
from storage._orders import ORDER_CHANGES
from storage.records import ORDER_OPEN_STATUSES, NavPoint, Order

BOOKS = "books"  # the account and the positions
ORDERS = "orders"
NAV = "nav"
FILLS = "fills"  # the fills table
FILL_KEYS_KEPT = 500_000  # the fills' keys are kept in memory while there are no more than this many
NAV_KEPT = 2_000  # NAV history answers up to this many points are kept (and followed) in memory ...
NAV_QUERIES = 8  # ... for this many queries, the least recently used dropped first

Stamp = tuple[int, int]
NavRows = list[tuple[tuple[str, str], NavPoint]]  # ((session, ts as stored), point) in (session, ts) order


def kv_area(namespace: str, key: str) -> tuple[str, str, str]:
    return ("kv", namespace, key)


class Stamps:
    """Write counters: ``any`` for writes that do not say what they change, one an area for the others."""

    __slots__ = ("any", "areas")

    def __init__(self) -> None:
        self.any = 0
        self.areas: dict[Hashable, int] = {}

    def of(self, area: Hashable) -> Stamp:
        return (self.any, self.areas.get(area, 0))

    def bump(self, areas: tuple[Hashable, ...] | None) -> None:
        if areas is None:
            self.any += 1
            return
        for area in areas:
            self.areas[area] = self.areas.get(area, 0) + 1

    def began(self, area: Hashable, before: Stamp) -> bool:
        """True inside a transaction when its beginning (one bump) is all that touched ``area`` since ``before``."""
        return self.of(area) == (before[0], before[1] + 1)

    def alone(self, area: Hashable, before: Stamp) -> bool:
        """True when one transaction (two bumps) is all that touched ``area`` since ``before``."""
        return self.of(area) == (before[0], before[1] + 2)


@dataclass(slots=True)
class Writer:
    """The ledger's side of a write: its connection, lock and stamps. ``inline``: an
    :class:`~storage._inline.InlineConnection`, whose COMMIT runs on the caller's thread without a suspension
    point, so a cancellation cannot leave it half done and it needs no shield (a task a transaction)."""

    conn: aiosqlite.Connection
    lock: asyncio.Lock
    stamps: Stamps
    inline: bool
    rollback: Callable[[], Coroutine[Any, Any, None]]


class Write:
    """One ``BEGIN IMMEDIATE`` transaction under the writer's lock (``async with``; :meth:`Ledger.transaction`).

    The areas it names are stamped when it begins and again when it ends, committed or rolled back: a document
    read from one of them meanwhile (it may never be committed) is not served from memory afterwards.
    """

    __slots__ = ("areas", "writer")

    def __init__(self, writer: Writer, areas: tuple[Hashable, ...] | None) -> None:
        self.writer = writer
        self.areas = areas

    def touch(self, areas: Iterable[Hashable]) -> None:
        """Name further areas once inside (kv documents built in the transaction)."""
        if self.areas is not None:
            more = tuple(areas)
            self.writer.stamps.bump(more)
            self.areas += more

    async def __aenter__(self) -> aiosqlite.Connection:
        writer = self.writer
        await writer.lock.acquire()
        writer.stamps.bump(self.areas)
        try:
            await writer.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            await self._end(commit=False)
            raise
        return writer.conn

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        await self._end(commit=exc_type is None)

    async def _end(self, *, commit: bool) -> None:
        writer = self.writer
        try:
            if not commit:
                # Also on cancellation: the BEGIN may already be queued on aiosqlite's thread, and a transaction
                # left open would make every later write fail. Statements run in order there, so this is safe.
                await asyncio.shield(writer.rollback())
            elif writer.inline:
                await writer.conn.execute("COMMIT")
            else:
                await asyncio.shield(writer.conn.execute("COMMIT"))
        finally:
            writer.stamps.bump(self.areas)
            writer.lock.release()


class NavMemo:
    """NAV history answers by (since session, limit), valid at one NAV stamp; each is kept what its query would
    read, through every point the writer commits (:meth:`written`)."""

    def __init__(self, stamps: Stamps) -> None:
        self.stamps = stamps
        self.stamp = stamps.of(NAV)
        self.answers: dict[tuple[str | None, int], NavRows] = {}

    def get(self, since: str | None, limit: int) -> NavRows | None:
        """The answer, from memory: kept for this query, or cut from a complete answer that covers it."""
        if self.stamp != self.stamps.of(NAV) or limit <= 0:
            return None
        query = (since, limit)
        found = self.answers.get(query)
        if found is None:
            for (since_, limit_), rows_ in reversed(self.answers.items()):
                if len(rows_) < limit_ and (since_ is None or (since is not None and since_ <= since)):
                    start = 0 if since is None else bisect_left(rows_, (since,), key=itemgetter(0))
                    found = rows_[start:][-limit:]
                    break
            if found is None:
                return None
        self._keep(query, found)
        return found

    def put(self, since: str | None, limit: int, found: NavRows, stamp: Stamp) -> None:
        """Keep an answer read at ``stamp`` (not if a NAV write came since)."""
        if stamp != self.stamps.of(NAV) or limit <= 0 or len(found) > NAV_KEPT:
            return
        if self.stamp != stamp:
            self.answers.clear()
            self.stamp = stamp
        self._keep((since, limit), found)

    def _keep(self, query: tuple[str | None, int], found: NavRows) -> None:
        """Keep ``found`` as the most recently used answer, dropping the least recently used beyond the bound."""
        self.answers.pop(query, None)
        while len(self.answers) >= NAV_QUERIES:
            del self.answers[next(iter(self.answers))]
        self.answers[query] = found

    def written(self, point: NavPoint, before: Stamp) -> None:
        """Follow a point just committed (``before``: the NAV stamp before its transaction), as ``INSERT OR
        REPLACE`` keyed by (session, ts) changed each query's answer; or drop them all if another write came."""
        if self.stamp != before or not self.stamps.alone(NAV, before):
            self.answers.clear()
            return
        key = (point.session, rows.ts(point.ts))
        stored = NavPoint(rows.req_ts(key[1]), point.session, float(point.nav), float(point.cash),
                          float(point.gross_exposure), float(point.net_exposure), point.tick_id)  # fmt: skip
        for query, found in list(self.answers.items()):
            since, limit = query
            if since is not None and point.session < since:
                continue
            newest = not found or found[-1][0] < key  # the usual case: no search
            at = len(found) if newest else bisect_left(found, key, key=itemgetter(0))
            if at < len(found) and found[at][0] == key:
                found[at] = (key, stored)
            else:
                found.insert(at, (key, stored))
                if len(found) > limit:
                    del found[0]
                if len(found) > NAV_KEPT:
                    del self.answers[query]
        self.stamp = self.stamps.of(NAV)


OrderKey = tuple[int, str, str, int]  # the open orders' order: (priority, created_at as stored, status, rowid)
_OPEN_STATUSES = frozenset(ORDER_OPEN_STATUSES)


class _Unsure(Exception):
    """A value whose stored form the memo does not predict (a type SQLite would convert): it drops the orders."""


def _real(value: Any, *, null: bool = False) -> float | None:
    kind = type(value)
    if kind is float:
        return None if value != value else value  # SQLite stores a NaN as NULL
    if kind is int:
        return float(value)  # REAL affinity: an integer comes back a float
    if null and value is None:
        return None
    raise _Unsure


def _number(value: Any) -> float:
    if (found := _real(value)) is None:
        raise _Unsure
    return found


def _integer(value: Any) -> int:
    if type(value) is int:
        return value
    raise _Unsure


class OrdersMemo:
    """The open orders as :meth:`storage.ledger.Ledger.open_orders` reads them, valid at one ORDERS stamp, and
    followed through the batch writes of orders (new orders, changes, fills, a cancel of all): each applies to
    them, once committed, what a fresh read would then give (the same values, as SQLite stores and returns them,
    in the same order). Any other write to the orders, a rollback, or a value whose stored form is not certain
    drops them."""

    __slots__ = ("kept", "listed", "next", "stamp", "stamps")

    def __init__(self, stamps: Stamps) -> None:
        self.stamps = stamps
        self.stamp: Stamp | None = None
        self.kept: dict[str, tuple[OrderKey, Order]] = {}
        self.listed: list[Order] = []
        self.next = 0  # a rowid above every kept one: new orders are inserted after every row of the table

    def get(self) -> list[Order] | None:
        return self.listed if self.stamp is not None and self.stamp == self.stamps.of(ORDERS) else None

    def lookup(self) -> Callable[[str], Order | None]:
        """The open orders kept now, by client order id (None for any other): what a read at the stamp the caller
        checked gives, even if a read inside a later transaction replaces them."""
        kept = self.kept

        def order(client_order_id: str) -> Order | None:
            held = kept.get(client_order_id)
            return held[1] if held is not None else None

        return order

    def put(self, found: list[tuple[int, Order]], stamp: Stamp) -> None:
        """Keep a fresh read, ``(rowid, order)`` in its order, made at ``stamp`` (not if an orders write came since)."""
        if stamp != self.stamps.of(ORDERS):
            return
        self.kept = {o.client_order_id: ((o.priority, rows.ts(o.created_at), o.status, n), o) for n, o in found}
        self.listed = [o for _, o in found]
        self.next = max((n for n, _ in found), default=0) + 1
        self.stamp = stamp

    def valid_at(self, before: Stamp) -> bool:
        """True when the orders kept are those of ``before`` and one transaction alone wrote them since."""
        return self.stamp == before and self.stamps.alone(ORDERS, before)

    def drop(self) -> None:
        self.stamp = None
        self.kept, self.listed = {}, []

    def _done(self) -> None:
        self.listed = [o for _, o in sorted(self.kept.values(), key=itemgetter(0))]
        self.stamp = self.stamps.of(ORDERS)

    def cancelled_all(self, before: Stamp) -> None:
        """Every open order was closed (:meth:`storage.ledger.Ledger.cancel_open_orders`): none is open."""
        if self.stamps.alone(ORDERS, before):
            self.kept, self.listed, self.next = {}, [], 1
            self.stamp = self.stamps.of(ORDERS)
        else:
            self.drop()

    def inserted(self, orders: Iterable[Order], before: Stamp) -> None:
        """Follow new order rows just committed (inserted in this order, after every row of the table)."""
        if not self.valid_at(before):
            self.drop()
            return
        last: tuple[datetime, str, datetime] | None = None  # a batch's orders share their creation time
        try:
            for o in orders:
                if o.status not in _OPEN_STATUSES:
                    continue
                if not (type(o.client_order_id) is str and type(o.symbol) is str and type(o.side) is str
                        and type(o.venue) is str and type(o.status) is str and type(o.strategy) is str
                        and type(o.reason) is str and type(o.priority) is int and type(o.attempts) is int
                        and (o.tick_id is None or type(o.tick_id) is str)
                        and (o.broker_order_id is None or type(o.broker_order_id) is str)):  # fmt: skip
                    raise _Unsure
                if last is None or last[0] is not o.created_at:
                    text = rows.ts(o.created_at)
                    last = (o.created_at, text, rows.req_ts(text))
                _, stored, created = last
                kept = Order(o.client_order_id, o.symbol, o.side, _number(o.qty), o.venue, created, o.status,
                             _real(o.limit_price, null=True), o.tick_id, o.strategy, o.priority, 0.0, None,
                             o.broker_order_id, o.attempts, o.reason, created)  # fmt: skip
                self.kept[kept.client_order_id] = ((kept.priority, stored, kept.status, self.next), kept)
                self.next += 1
        except _Unsure:
            self.drop()
            return
        self._done()

    def updated(self, updates: Mapping[str, Mapping[str, Any]], ts: datetime, before: Stamp) -> None:
        """Follow field changes just committed (:func:`storage._orders.update_orders`, ``updated_at`` = ``ts``;
        the fields are those it takes: status, venue, broker_order_id and reason text, attempts an integer)."""
        if not self.valid_at(before):
            self.drop()
            return
        when = rows.req_ts(rows.ts(ts))
        kept = self.kept
        for coid, changes in updates.items():
            for field, value in changes.items():
                if field not in ORDER_CHANGES or (
                    type(value) is not (int if field == "attempts" else str)
                    and not (value is None and field == "broker_order_id")
                ):
                    self.drop()
                    return
            status = changes.get("status")
            held = kept.get(coid)
            if held is None:
                if status in _OPEN_STATUSES:  # a closed order opened again: its row is not kept
                    self.drop()
                    return
                continue
            if status is not None and status not in _OPEN_STATUSES:
                del kept[coid]
                continue
            key, o = held
            get = changes.get
            o = Order(o.client_order_id, o.symbol, o.side, o.qty, get("venue", o.venue), o.created_at,
                      get("status", o.status), o.limit_price, o.tick_id, o.strategy, o.priority, o.filled_qty,
                      o.avg_fill_price, get("broker_order_id", o.broker_order_id), get("attempts", o.attempts),
                      get("reason", o.reason), when)  # fmt: skip
            kept[coid] = ((key[0], key[1], o.status, key[3]), o)
        self._done()

    def filled(self, changed: Mapping[str, tuple[float, float | None, str, str]], before: Stamp) -> None:
        """Follow a fill batch just committed: each order it moved, as ``(filled_qty, avg_fill_price, status,
        updated_at as stored)``."""
        if not self.valid_at(before):
            self.drop()
            return
        for coid, (filled_qty, avg_price, status, updated) in changed.items():
            held = self.kept.get(coid)
            if held is None:
                if status in _OPEN_STATUSES:
                    self.drop()
                    return
                continue
            if status not in _OPEN_STATUSES:
                del self.kept[coid]
                continue
            key, o = held
            o = Order(o.client_order_id, o.symbol, o.side, o.qty, o.venue, o.created_at, status, o.limit_price,
                      o.tick_id, o.strategy, o.priority, filled_qty, avg_price, o.broker_order_id, o.attempts,
                      o.reason, rows.req_ts(updated))  # fmt: skip
            self.kept[coid] = ((key[0], key[1], status, key[3]), o)
        self._done()


class FillKeys:
    """The (venue, trade id) of every fill in the ledger, valid at one FILLS stamp, followed through each fill
    batch committed: a batch of new fills (the usual case) looks none up."""

    __slots__ = ("keys", "many", "stamp", "stamps")

    def __init__(self, stamps: Stamps) -> None:
        self.stamps = stamps
        self.stamp: Stamp | None = None
        self.keys: set[tuple[str, str]] = set()
        self.many = False  # more fills than are kept: each batch looks its own up, as before, for good

    def get(self) -> set[tuple[str, str]] | None:
        return self.keys if self.stamp is not None and self.stamp == self.stamps.of(FILLS) else None

    def put(self, keys: set[tuple[str, str]], stamp: Stamp) -> bool:
        """Keep every key, read at ``stamp`` (inside a transaction: the stamp before it, when it alone wrote);
        False (and nothing kept from now on) when they are too many."""
        if len(keys) > FILL_KEYS_KEPT:
            self.many = True
            return False
        self.keys, self.stamp = keys, stamp
        return True

    def added(self, keys: Iterable[tuple[str, str]], before: Stamp) -> None:
        """Follow the fills a batch just committed (``before``: the FILLS stamp the keys were valid at)."""
        if self.stamp == before and self.stamps.alone(FILLS, before):
            self.keys.update(keys)
            self.stamp = self.stamps.of(FILLS)
            if len(self.keys) <= FILL_KEYS_KEPT:
                return
            self.many = True
        self.stamp, self.keys = None, set()
