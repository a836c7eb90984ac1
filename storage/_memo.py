"""What the ledger's single writer keeps in memory, and when it stops trusting it.

Every write transaction says what it may change (an area: the books, the orders, the NAV history, one kv
document; or, by default, anything). A document read from the ledger is kept with the stamp of its area and
served while no write has touched that area since, so a tick's trace or a tracker document no longer makes the
books and the open orders be read again. The NAV history answers kept are followed through each point written.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable, Coroutine, Hashable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import aiosqlite

from storage import _rows as rows
from storage.records import NavPoint

BOOKS = "books"  # the account and the positions
ORDERS = "orders"
NAV = "nav"
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
