"""SQLite helpers for backup and restore: the online backup API, a full integrity check, table digests."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any


def online_backup(source: Path, dest: Path) -> None:
    """Copy ``source`` into a new single-file database at ``dest`` (``sqlite3.Connection.backup``).

    One step (``pages=-1``) under a read transaction, so the copy is a consistent snapshot even while the
    runtime writes. The copy is switched to ``journal_mode=DELETE``: a self-contained file, no -wal beside it
    (the runtime turns WAL back on when it opens a restored ledger).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(source, isolation_level=None, timeout=10.0)  # no pragma: the file keeps its own mode
    try:
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")
        finally:
            out.close()
    finally:
        src.close()
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that changes nothing in the file (no journal-mode pragma)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def integrity(conn: sqlite3.Connection) -> str:
    """``PRAGMA integrity_check`` (the full check, not quick_check): ``ok`` or the problems found."""
    rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    return "ok" if rows == ["ok"] else "; ".join(rows[:10])


def tables(conn: sqlite3.Connection) -> list[str]:
    found = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in found]


def table_stats(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Per table: row count and a SHA-256 over every row, ordered by all columns (identical data, same digest)."""
    out: dict[str, dict[str, Any]] = {}
    for name in tables(conn):
        columns = [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{name}")').fetchall()]
        order = ", ".join(f'"{c}"' for c in columns)
        digest = hashlib.sha256()
        count = 0
        for row in conn.execute(f'SELECT {order} FROM "{name}" ORDER BY {order}'):
            digest.update(repr(tuple(row)).encode("utf-8"))
            digest.update(b"\n")
            count += 1
        out[name] = {"rows": count, "sha256": digest.hexdigest()}
    return out


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def audit_head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    try:
        row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return None
    return (int(row[0]), str(row[1])) if row else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_durably(source: Path, dest: Path, *, limit: int | None = None) -> None:
    """Copy ``source`` (its first ``limit`` bytes) to ``dest`` through a temporary name, fsync'd."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    remaining = limit
    with source.open("rb") as src, tmp.open("wb") as out:
        while remaining is None or remaining > 0:
            chunk = src.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            out.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def complete_lines_size(path: Path) -> int:
    """Bytes up to and including the last newline (a line being written stays out of a copy)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        pos = size
        while pos > 0:
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
    return 0
