"""An aiosqlite connection that runs every statement in the calling thread (the event loop's).

aiosqlite hands every statement to a worker thread and wakes the event loop with the result: 50-150 us a
statement on a quiet machine and milliseconds when the cores are busy (each hop waits to be scheduled twice),
where the statement itself takes a few microseconds. A tick runs tens of them, so the hops were most of a
backtest's time and a large part of a live tick's. Even a durable commit (WAL, ``synchronous=FULL``: one
fsync of the WAL, ~0.15 ms on this project's machines) costs less inline than the hop to a thread and back;
see docs/decisions.md (21) for why blocking the loop for it is acceptable.

It is an :class:`aiosqlite.Connection` (same cursors, same ``async with conn.execute(...)``), so the ledger
takes it unchanged.
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
