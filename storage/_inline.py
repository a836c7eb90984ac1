"""An aiosqlite connection that runs every statement in the calling thread (the event loop's).

aiosqlite hands every statement to a worker thread and wakes the event loop with the result: 50-150 us a
statement on a quiet machine and milliseconds when the cores are busy (each hop waits to be scheduled twice),
where the statement itself takes a few microseconds. A tick runs tens of them, so the hops were most of a
backtest's time and a large part of a live tick's. Even a durable commit (WAL, ``synchronous=FULL``: one
fsync of the WAL, ~0.15 ms on this project's machines) costs less inline than the hop to a thread and back;
see docs/decisions.md (21) for why blocking the loop for it is acceptable.

It is an :class:`aiosqlite.Connection` (same cursors, same ``async with conn.execute(...)``), so the ledger
takes it unchanged. ``execute``/``executemany`` and the cursor's fetches skip aiosqlite's layers (a coroutine
for the method, one for ``_execute``, a ``functools.partial``, a coroutine-wrapping ``Result``): a statement is
still run when it is awaited (or entered), never when it is merely called, as in aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import Result


class InlineCursor(aiosqlite.Cursor):
    """:class:`aiosqlite.Cursor` whose fetches run directly on the wrapped :class:`sqlite3.Cursor`."""

    async def fetchone(self) -> sqlite3.Row | None:
        return self._cursor.fetchone()  # type: ignore[no-any-return]

    async def fetchmany(self, size: int | None = None) -> list[sqlite3.Row]:
        cur = self._cursor
        return cur.fetchmany() if size is None else cur.fetchmany(size)

    async def fetchall(self) -> list[sqlite3.Row]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Statement(Result[aiosqlite.Cursor]):
    """What ``execute``/``executemany`` return: awaited or entered, it runs the statement and gives its cursor;
    leaving it closes the cursor (as aiosqlite's ``Result``)."""

    __slots__ = ("_args", "_owner", "_run")

    def __init__(self, owner: InlineConnection, run: Callable[..., sqlite3.Cursor], args: tuple[Any, ...]) -> None:
        self._owner = owner
        self._run = run
        self._args = args

    def _cursor(self) -> InlineCursor:
        conn = self._owner._connection
        if conn is None:
            raise ValueError("no active connection")
        return InlineCursor(self._owner, self._run(conn, *self._args))

    def __await__(self) -> Generator[Any, None, aiosqlite.Cursor]:
        return self._cursor()
        yield  # a generator: nothing runs until awaited  # pragma: no cover

    def send(self, value: Any) -> Any:
        raise TypeError("await an inline statement, do not drive it")

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        raise TypeError("await an inline statement, do not drive it")

    def close(self) -> None:
        return None

    async def __aenter__(self) -> aiosqlite.Cursor:
        self._obj = self._cursor()
        return self._obj

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._obj._cursor.close()


_EXECUTE = sqlite3.Connection.execute
_EXECUTEMANY = sqlite3.Connection.executemany


class InlineConnection(aiosqlite.Connection):
    """:class:`aiosqlite.Connection` without the worker thread: ``await InlineConnection(connector)``."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Result[aiosqlite.Cursor]:
        return _Statement(self, _EXECUTE, (sql, () if parameters is None else parameters))

    def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Result[aiosqlite.Cursor]:
        return _Statement(self, _EXECUTEMANY, (sql, parameters))

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> asyncio.Future[Any] | None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None

    async def close(self) -> None:
        self.stop()
