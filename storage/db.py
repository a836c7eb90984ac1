"""Opening SQLite the one way this project does: WAL, ``synchronous=FULL``, foreign keys, migrations."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from pathlib import Path

import aiosqlite

from storage._inline import InlineConnection
from storage._schema import MIGRATIONS

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


async def connect(
    path: Path, *, migrate: bool = True, readonly: bool = False, durable: bool = True
) -> aiosqlite.Connection:
    """An aiosqlite connection with the project's pragmas, schema migrated to the latest version.

    ``readonly`` opens an existing ledger for reading beside a running runtime (WAL allows it) and migrates nothing.
    ``durable=False`` (``synchronous=OFF``) is for throwaway ledgers only: backtests and replays on scratch homes,
    which are recomputed rather than recovered after a crash. Live ledgers are always ``synchronous=FULL``.
    A writable connection runs its statements inline, on the event loop's thread (:mod:`storage._inline`): a
    statement, even a durable commit, takes less than the hop to aiosqlite's worker thread and back.
    """
    if readonly:
        if not await asyncio.to_thread(path.exists):
            raise FileNotFoundError(f"no ledger at {path}")
        conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await InlineConnection(functools.partial(sqlite3.connect, path, isolation_level=None))
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS[1:] if readonly else PRAGMAS:
        await conn.execute(pragma)
    if not durable:
        await conn.execute("PRAGMA synchronous=OFF")
    if migrate and not readonly:
        await _migrate(conn)
    return conn


def connect_sync(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection with the same pragmas (backups, CLI readers, crash tests)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS[1:] if readonly else PRAGMAS:
        conn.execute(pragma)
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"ledger schema version {version} is newer than this build ({len(MIGRATIONS)}): upgrade agenthedge"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version={number}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
