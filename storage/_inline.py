"""An aiosqlite connection that runs statements in the calling thread, and only what waits on the disk elsewhere.

aiosqlite hands every statement to a worker thread and wakes the event loop with the result: 50-150 us a
statement on a busy machine, where the statement itself takes a few microseconds. A tick runs tens of them,
so the hops were most of a backtest's time and a large part of a live tick's.

:class:`InlineConnection` runs statements inline, on the loop's own thread. With ``durable_commits`` (live
ledgers: WAL, ``synchronous=FULL``) a ``COMMIT``, which writes the WAL and fsyncs it, still runs on a worker
thread, so the loop stays free for the kill switch while the disk works; until that commit returns, every
other statement on the connection waits for it (a connection is never used from two threads at once). Without
(throwaway databases, ``synchronous=OFF``) everything runs inline.

It is an :class:`aiosqlite.Connection` (same cursors, same ``async with conn.execute(...)``), so the ledger and
the paper venue take it unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


def _is_commit(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    if getattr(fn, "__name__", "") == "commit":
        return True
    return bool(args) and isinstance(args[0], str) and args[0].lstrip()[:6].upper() in ("COMMIT", "END")


class InlineConnection(aiosqlite.Connection):
    """:class:`aiosqlite.Connection` without the per-statement thread hop: ``await InlineConnection(connector)``.

    ``connector`` must open the connection with ``check_same_thread=False`` when ``durable_commits`` is set.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], *, durable_commits: bool = False) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self.durable_commits = durable_commits
        self._syncing: asyncio.Future[Any] | None = None  # a commit running on the worker thread

    async def _commit_done(self) -> None:
        """Wait while a commit runs on the worker thread: the connection is that commit's until it returns."""
        while (pending := self._syncing) is not None:
            await asyncio.wait([pending])
            if self._syncing is pending:
                self._syncing = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        await self._commit_done()
        if self._connection is None:
            raise ValueError("Connection closed")
        if not (self.durable_commits and _is_commit(fn, args)):
            return fn(*args, **kwargs)
        commit = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        self._syncing = commit
        try:
            # shielded: a cancelled caller cannot stop the thread, and the next statement must wait for it
            return await asyncio.shield(commit)
        finally:
            if self._syncing is commit and commit.done():
                self._syncing = None

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
        await self._commit_done()
        self.stop()
