"""File helpers of the audit log: reading the tail, counting lines, durable writes, the writer lock.

Private; :mod:`storage.audit` is the public face. POSIX only (``fcntl``), like the rest of the runtime.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import os
from pathlib import Path
from typing import BinaryIO

from storage._audit_format import AuditLockedError

_BLOCK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


def read_last_lines(f: BinaryIO, n: int) -> list[tuple[int, bytes]]:
    """The last ``n`` lines of a seekable binary file, read backwards from its end.

    Returns:
        ``(offset, raw)`` pairs, oldest first; ``raw`` keeps its newline (the very last line may lack
        one). Only as many blocks as the lines span are read, so this is cheap on a large file.
    """
    end = f.seek(0, os.SEEK_END)
    if n <= 0 or end == 0:
        return []
    pos, buf = end, b""
    # The file's final byte may be the newline closing the last line: n lines need n newlines before it.
    while pos > 0 and buf.count(b"\n", 0, max(len(buf) - 1, 0)) < n:
        step = min(_BLOCK, pos)
        pos -= step
        f.seek(pos)
        buf = f.read(step) + buf
    parts = buf.split(b"\n")
    lines: list[tuple[int, bytes]] = []
    offset = pos
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if last and not part:
            break  # the file ended with a newline
        lines.append((offset, part if last else part + b"\n"))
        offset += len(part) + 1
    if pos > 0:
        lines = lines[1:]  # the first part starts mid-line
    return lines[-n:]


def line_number_at(f: BinaryIO, offset: int) -> int:
    """The 1-based line number of the line starting at byte ``offset`` (streams the file up to it)."""
    f.seek(0)
    count, done = 1, 0
    while done < offset:
        chunk = f.read(min(1 << 20, offset - done))
        if not chunk:
            break
        count += chunk.count(b"\n")
        done += len(chunk)
    return count


def open_log(path: Path) -> io.BufferedIOBase:
    """Open a log for reading, plain or gzip (told by its first bytes, not its name)."""
    f = path.open("rb")
    magic = f.read(2)
    f.seek(0)
    if magic == _GZIP_MAGIC:
        f.close()
        return gzip.open(path, "rb")
    return f


def write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` (normally in one ``write``; loops only on a short write)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a created or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Create ``path`` (replacing it if present) holding ``data``, fsync'd, directory included."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


class WriterLock:
    """An exclusive, non-blocking ``flock`` on ``.<log name>.lock`` beside the log: one writer at a time.

    The lock lives in its own file because rotation replaces the log's inode. ``flock`` locks belong to an
    open file description, so a second writer in the same process is refused too, and the kernel drops
    the lock when its holder dies.
    """

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.path = log_path.with_name(f".{log_path.name}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            AuditLockedError: another writer holds it.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AuditLockedError(f"{self.log_path} has another writer ({self.path} is locked)") from None
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
