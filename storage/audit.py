"""The append-only, hash-chained audit log: ``<home>/audit/runtime_events.jsonl``.

One JSON line per event, written in one ``write`` and fsync'd before :meth:`AuditLog.append` returns.
Every line carries ``seq`` (1-based, contiguous), ``ts`` (UTC), ``run_id``, ``env``, ``event``, ``actor``,
``tick_id`` (may be null), ``data`` (an object), ``prev`` (the previous line's hash, 64 zeros for the
first) and ``hash`` (SHA-256 over the canonical JSON of the other fields). The line itself is that
canonical JSON, so :func:`verify` can tell any changed byte.

What the chain proves, and what it does not: any edit, deletion, insertion or reordering inside a file
is found and located by :func:`verify`. Deleting lines at the *end* leaves a valid shorter chain; the
runtime keeps the head ``(seq, hash)`` in its SQLite ledger and passes it as ``expected_head``. Someone
able to rewrite the whole file and the ledger can forge both; the chain is tamper-evidence, not a
signature.

Files: the nightly :func:`archive` copies the log to ``runtime_events-YYYYMMDD.jsonl.gz``; the weekly
:func:`rotate` (or :meth:`AuditLog.rotate`) archives it and starts a new file whose first record,
``audit.rotated``, continues ``seq`` and links ``prev`` to the archived file's last hash.
:func:`verify_chain` checks archives and the live file as one chain.

Example:
    >>> log = AuditLog.in_home(home, run_id="r1", env="paper")  # doctest: +SKIP
    >>> log.append("runtime.transition", {"from": "RUNNING", "to": "HALTED"}, actor="risk")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from storage._audit_archive import ArchiveResult, RotateResult, archive, archive_name, rotate, rotate_locked
from storage._audit_format import (
    GENESIS_PREV,
    REQUIRED_FIELDS,
    ROTATED_EVENT,
    AuditArchiveError,
    AuditChainError,
    AuditError,
    AuditHead,
    AuditLockedError,
    LineError,
    VerifyReason,
    canonical_json,
    decode_line,
    encode_line,
    encode_record,
    format_ts,
    link_error,
    record_hash,
)
from storage._audit_io import WriterLock, fsync_dir, line_number_at, read_last_lines, write_all
from storage._audit_verify import VerifyResult, verify, verify_chain

__all__ = [
    "AUDIT_FILE",
    "GENESIS_PREV",
    "REQUIRED_FIELDS",
    "ROTATED_EVENT",
    "ArchiveResult",
    "AuditArchiveError",
    "AuditChainError",
    "AuditError",
    "AuditHead",
    "AuditLockedError",
    "AuditLog",
    "AuditRecord",
    "RotateResult",
    "VerifyReason",
    "VerifyResult",
    "Written",
    "archive",
    "archive_name",
    "canonical_json",
    "read_head",
    "record_hash",
    "rotate",
    "verify",
    "verify_chain",
]

AUDIT_FILE = Path("audit") / "runtime_events.jsonl"
"""Where the log lives under ``AGENTHEDGE_HOME``."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Written(NamedTuple):
    """What :meth:`AuditLog.write` wrote: the new head (``seq``, ``hash``) and the line's ``ts``."""

    seq: int
    hash: str
    ts: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit log, as written."""

    seq: int
    ts: str
    run_id: str
    env: str
    event: str
    actor: str
    tick_id: str | None
    data: dict[str, Any] = field(repr=False)
    prev: str
    hash: str

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> AuditRecord:
        """Build from a decoded line."""
        return cls(
            seq=record["seq"],
            ts=record["ts"],
            run_id=record["run_id"],
            env=record["env"],
            event=record["event"],
            actor=record["actor"],
            tick_id=record.get("tick_id"),
            data=record["data"],
            prev=record["prev"],
            hash=record["hash"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as its JSON object."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "run_id": self.run_id,
            "env": self.env,
            "event": self.event,
            "actor": self.actor,
            "tick_id": self.tick_id,
            "data": self.data,
            "prev": self.prev,
            "hash": self.hash,
        }


def read_head(path: str | os.PathLike[str]) -> AuditHead | None:
    """The head ``(seq, hash)`` of a log, reading only its last two lines; ``None`` if empty or missing.

    The last line must be whole and valid and follow the line before it (or, as a file's only line, be a
    genesis or rotation record). The rest of the file is not read: that is :func:`verify`'s job.

    Raises:
        AuditChainError: the tail is corrupt; ``line`` names the bad line (counting lines only then).
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except FileNotFoundError:
        return None
    with f:
        tail = read_last_lines(f, 2)
        if not tail:
            return None

        def refuse(offset: int, reason: VerifyReason, message: str) -> AuditChainError:
            line = line_number_at(f, offset)
            return AuditChainError(f"{message}; refusing to extend the chain", path=str(p), line=line, reason=reason)

        records: list[dict[str, Any]] = []
        for offset, raw in tail:
            if not raw.endswith(b"\n"):
                raise refuse(offset, VerifyReason.TRUNCATED, "the last line is cut off (no trailing newline)")
            try:
                records.append(decode_line(raw))
            except LineError as exc:
                raise refuse(offset, exc.reason, exc.message) from None
        last_offset, last = tail[-1][0], records[-1]
        before = records[0] if len(records) == 2 else None
        if before is not None or last_offset == 0:
            problem = link_error(before, last)
            if problem is not None:
                raise refuse(last_offset, *problem)
        return AuditHead(last["seq"], last["hash"])


class AuditLog:
    """The single writer of one audit log file.

    Opening reads only the tail (:func:`read_head`) to continue ``seq`` and ``prev``, and refuses a
    corrupt tail with :class:`AuditChainError`. It takes an exclusive ``flock`` beside the file, so a
    second writer, in this process or another, gets :class:`AuditLockedError` instead of forking the
    chain. Appends are serialised by a thread lock. After a failed write or fsync the log refuses further
    appends (the file may end with a torn line); reopening it then reports the tail.

    Args:
        path: The log file; its directory is created if missing.
        run_id: Written on every line; settable.
        env: Written on every line; settable.
        clock: Returns an aware datetime for ``ts``; defaults to the UTC wall clock.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, run_id: str, env: str, clock: Clock | None = None, durable: bool = True
    ) -> None:
        self.path = Path(path)
        self.durable = durable  # False only for throwaway runs (backtests): lines are written but not fsync'd
        self.run_id = run_id
        self.env = env
        self._clock: Clock = clock or _utc_now
        self._last_moment: datetime | None = None  # the clock's last reading and its format_ts
        self._last_ts = ""
        self._lock = threading.Lock()
        self._failed: str | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_lock = WriterLock(self.path)
        self._writer_lock.acquire()
        try:
            self._head = read_head(self.path)
            self._fd: int | None = self._open_fd()
        except BaseException:
            self._writer_lock.release()
            raise

    @classmethod
    def in_home(cls, home: str | os.PathLike[str], *, run_id: str, env: str, clock: Clock | None = None) -> Self:
        """The log at ``<home>/audit/runtime_events.jsonl``."""
        return cls(Path(home) / AUDIT_FILE, run_id=run_id, env=env, clock=clock)

    def _open_fd(self) -> int:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        if created:
            fsync_dir(self.path.parent)
        return fd

    @property
    def head(self) -> AuditHead | None:
        """``(seq, hash)`` of the last record written, ``None`` for an empty log."""
        return self._head

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._fd is None

    def append(self, event: str, data: Mapping[str, Any], *, actor: str, tick_id: str | None = None) -> AuditRecord:
        """Write one event, fsync'd, and return the record as written.

        Args:
            event: A short dotted name, e.g. ``runtime.transition``.
            data: A JSON object. Datetimes, dates, decimals, UUIDs, paths, enums and pydantic models in it
                are written in their JSON form; the returned record holds what was written.
            actor: Who: the operator's name, or the agent or component.
            tick_id: The tick the event belongs to, if any.

        Raises:
            TypeError, ValueError: bad arguments or data that is not plain JSON; nothing is written.
            AuditError: the log is closed or an earlier write failed.
            OSError: the write or fsync failed; the log then refuses further appends.
        """
        record: dict[str, Any] = {}

        def encode(body: Mapping[str, Any]) -> tuple[str, bytes]:
            parsed, line = encode_record(body)
            record.update(parsed)
            return parsed["hash"], line

        self._append(event, data, actor, tick_id, encode)
        return AuditRecord.from_dict(record)

    def write(self, event: str, data: Mapping[str, Any], *, actor: str, tick_id: str | None = None) -> Written:
        """:meth:`append` giving back only the new head and the line's ``ts``, not the record parsed back: the
        same line, for less work (the runtime's per-tick lines)."""
        return self._append(event, data, actor, tick_id, encode_line)

    def _append(
        self,
        event: str,
        data: Mapping[str, Any],
        actor: str,
        tick_id: str | None,
        encode: Callable[[Mapping[str, Any]], tuple[str, bytes]],
    ) -> Written:
        if not isinstance(event, str) or not event:
            raise ValueError("event must be a non-empty string")
        if not isinstance(actor, str) or not actor:
            raise ValueError("actor must be a non-empty string")
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, not {type(data).__name__}")
        with self._lock:
            fd = self._writable_fd()
            head = self._head
            moment = self._clock()
            if moment != self._last_moment:  # a simulated clock gives one moment for a whole tick's lines
                self._last_ts = format_ts(moment)
                self._last_moment = moment
            seq, ts = (head.seq + 1 if head else 1), self._last_ts
            body = {
                "seq": seq,
                "ts": ts,
                "run_id": self.run_id,
                "env": self.env,
                "event": event,
                "actor": actor,
                "tick_id": tick_id,
                "data": data,
                "prev": head.hash if head else GENESIS_PREV,
            }
            digest, line = encode(body)
            try:
                write_all(fd, line)
                if self.durable:
                    os.fsync(fd)
            except OSError as exc:
                self._failed = f"a write failed ({exc}); the file may end with a torn line"
                raise
            self._head = AuditHead(seq, digest)
        return Written(seq, digest, ts)

    async def aappend(
        self, event: str, data: Mapping[str, Any], *, actor: str, tick_id: str | None = None
    ) -> AuditRecord:
        """:meth:`append` in a worker thread, so the fsync does not block the event loop."""
        return await asyncio.to_thread(self.append, event, data, actor=actor, tick_id=tick_id)

    def tail(self, n: int) -> list[dict[str, Any]]:
        """The last ``n`` records of the current file (fewer if it holds fewer), oldest first.

        Reads backwards from the end, so it costs the size of those lines, not of the file.

        Raises:
            AuditChainError: one of those lines is corrupt.
        """
        with self._lock, self.path.open("rb") as f:
            out: list[dict[str, Any]] = []
            for offset, raw in read_last_lines(f, n):
                try:
                    out.append(decode_line(raw))
                except LineError as exc:
                    raise AuditChainError(
                        exc.message, path=str(self.path), line=line_number_at(f, offset), reason=exc.reason
                    ) from None
            return out

    def rotate(self, dest_dir: str | os.PathLike[str], *, now: datetime, actor: str = "storage.audit") -> RotateResult:
        """Archive this log into ``dest_dir`` and continue in a new file (see :func:`rotate`).

        Appends wait while it runs. If it raises, the old file is still the log.
        """
        with self._lock:
            self._writable_fd()
            assert self._fd is not None
            os.close(self._fd)
            self._fd = None
            try:
                result = rotate_locked(
                    self.path, Path(dest_dir), now=now, run_id=self.run_id, env=self.env, actor=actor
                )
                self._head = AuditHead(result.record["seq"], result.record["hash"])
            finally:
                self._fd = self._open_fd()
            return result

    def archive(self, dest_dir: str | os.PathLike[str], *, now: datetime) -> ArchiveResult:
        """The nightly :func:`archive` of this log, with appends held off so it ends on this head."""
        with self._lock:
            return archive(self.path, dest_dir, now=now)

    def close(self) -> None:
        """Close the file and release the writer lock (idempotent)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._writer_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _writable_fd(self) -> int:
        if self._fd is None:
            raise AuditError(f"{self.path} is closed")
        if self._failed is not None:
            raise AuditError(f"{self.path}: refusing to append: {self._failed}")
        return self._fd
