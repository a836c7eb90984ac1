"""An aiosqlite connection that runs every statement in the calling thread, for throwaway databases.

aiosqlite hands each statement to a worker thread and wakes the event loop with the result: about 50-150 us a
statement on a busy machine, which is most of a backtest's time (tens of statements a session) and buys nothing
when the database is not fsync'd (``durable=False``: backtests, replays on scratch homes). There a statement
takes a few microseconds, so this connection runs it inline, on the loop's own thread.

It is an :class:`aiosqlite.Connection` (same cursors, same ``async with conn.execute(...)``), so the ledger and
the paper venue take either. Durable databases keep aiosqlite's thread: an fsync blocks for milliseconds, and
the loop must stay free for the kill switch meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """:class:`aiosqlite.Connection` without the worker thread: ``await InlineConnection(connector)``."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

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
