"""One runtime per home: an exclusive ``flock`` on ``<home>/runtime.lock`` that names its holder."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self


class HomeLocked(Exception):
    """Another process holds the home; the message says which."""


class HomeLock:
    def __init__(self, home: Path) -> None:
        self.path = home / "runtime.lock"
        self._fh: IO[str] | None = None

    def acquire(self, role: str = "runtime") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _describe(fh.read())
            fh.close()
            raise HomeLocked(f"{self.path.parent} is held by {holder}") from None
        fh.seek(0)
        fh.truncate()
        info = {"pid": os.getpid(), "host": socket.gethostname(), "role": role, "since": datetime.now(UTC).isoformat()}
        fh.write(json.dumps(info))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def holder(self) -> str | None:
        """Who holds the lock now, or None if nobody does."""
        if not self.path.exists():
            return None
        with self.path.open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                return _describe(fh.read())
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _describe(raw: str) -> str:
    try:
        info = json.loads(raw)
        return (
            f"{info.get('role', 'runtime')} pid {info['pid']} on {info.get('host', '?')} since {info.get('since', '?')}"
        )
    except (ValueError, KeyError, TypeError):
        return "another process (no holder details)"
