"""Nightly archive and weekly rotation of the audit log.

Private; :mod:`storage.audit` re-exports :func:`archive`, :func:`rotate` and their results.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from storage._audit_format import (
    ROTATED_EVENT,
    AuditArchiveError,
    AuditChainError,
    AuditError,
    VerifyReason,
    encode_record,
    format_ts,
)
from storage._audit_io import WriterLock, fsync_dir, write_durably
from storage._audit_verify import VerifyResult, verify

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """An archive written and checked.

    Attributes:
        path: The ``.jsonl.gz`` file.
        size: Bytes of log archived (uncompressed): every complete line present when it started.
        sha256: SHA-256 hex of those bytes; the archive decompresses to exactly them.
        verify: The verification of the archive itself (a corrupt log is still archived, as evidence).
    """

    path: Path
    size: int
    sha256: str
    verify: VerifyResult


@dataclass(frozen=True, slots=True)
class RotateResult:
    """A rotation: the archive of the old file, and the record that starts the new one."""

    archive: ArchiveResult
    record: dict[str, Any]


def archive_name(log_path: Path, now: datetime, n: int = 1) -> str:
    """``runtime_events-YYYYMMDD.jsonl.gz`` for the date of ``now`` (in its own timezone); ``-N`` if n > 1."""
    stem = log_path.name.removesuffix(".jsonl")
    return f"{stem}-{now:%Y%m%d}{'' if n == 1 else f'-{n}'}.jsonl.gz"


def archive(path: str | os.PathLike[str], dest_dir: str | os.PathLike[str], *, now: datetime) -> ArchiveResult:
    """Copy the log to ``dest_dir/runtime_events-YYYYMMDD.jsonl.gz``, then check the copy.

    Safe beside a live writer: it copies the complete lines present when it starts (a line being written,
    or a torn one, stays in the live file). The copy is written to a temporary name, fsync'd, decompressed
    and compared byte for byte (SHA-256) with the source, verified, then renamed into place.

    An archive already under that name is replaced only if it is a prefix of the new copy (tonight's
    archive growing); otherwise, as after a rotation the same day, the next free ``-N`` name is used.
    No archive is ever overwritten with something that does not contain it.

    Raises:
        FileNotFoundError: the log does not exist.
        AuditArchiveError: the copy does not decompress to the source's bytes.
        ValueError: ``now`` is naive.
    """
    format_ts(now)  # rejects a naive datetime
    src_path, dest = Path(path), Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with src_path.open("rb") as src:
        size = _complete_size(src, os.fstat(src.fileno()).st_size)
        target = _target(dest, src_path, now, src, size)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            digest = _compress(src, size, tmp, now)
            if _gunzip_digest(tmp) != (digest, size):
                raise AuditArchiveError(f"{tmp} does not decompress to the {size} bytes of {src_path}")
            checked = verify(tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    fsync_dir(dest)
    return ArchiveResult(target, size, digest, dataclasses.replace(checked, path=str(target)))


def rotate(
    path: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    now: datetime,
    run_id: str,
    env: str,
    actor: str = "storage.audit",
) -> RotateResult:
    """Rotate a log no process is writing: archive it and start a new file linked to it.

    Takes the writer lock; a running :class:`~storage.audit.AuditLog` rotates with its own
    :meth:`~storage.audit.AuditLog.rotate` instead. See :func:`rotate_locked` for what happens.

    Raises:
        AuditLockedError: a writer holds the log.
    """
    lock = WriterLock(Path(path))
    lock.acquire()
    try:
        return rotate_locked(Path(path), Path(dest_dir), now=now, run_id=run_id, env=env, actor=actor)
    finally:
        lock.release()


def rotate_locked(path: Path, dest_dir: Path, *, now: datetime, run_id: str, env: str, actor: str) -> RotateResult:
    """Archive the log, then atomically replace it with a file holding one ``audit.rotated`` record.

    The record continues the chain: ``seq`` is the archived last ``seq`` + 1, ``prev`` its hash, and
    ``data`` is ``{archived: <file name>, last_seq, last_hash}``. The caller holds the writer lock.
    A crash before the final rename leaves the old log in place (and a harmless archive of it).

    Raises:
        AuditChainError: the log does not verify, or ends with a torn line; it is archived, not rotated.
        AuditError: the log is empty or missing.
    """
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise AuditError(f"{path}: nothing to rotate, the log is empty or missing")
    done = archive(path, dest_dir, now=now)
    checked = done.verify
    if not checked.ok or checked.head is None:
        raise AuditChainError(
            f"refusing to rotate a log that does not verify ({checked.message}); archived as {done.path.name}",
            path=str(path),
            line=checked.first_bad_line,
            reason=checked.reason or VerifyReason.UNPARSEABLE,
        )
    if done.size != size:
        raise AuditChainError(
            f"refusing to rotate: the last line is cut off after byte {done.size}",
            path=str(path),
            line=checked.lines + 1,
            reason=VerifyReason.TRUNCATED,
        )
    last = checked.head
    record, line = encode_record(
        {
            "seq": last.seq + 1,
            "ts": format_ts(now),
            "run_id": run_id,
            "env": env,
            "event": ROTATED_EVENT,
            "actor": actor,
            "tick_id": None,
            "data": {"archived": done.path.name, "last_seq": last.seq, "last_hash": last.hash},
            "prev": last.hash,
        }
    )
    tmp = path.with_name(f".{path.name}.rotating")
    write_durably(tmp, line)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return RotateResult(done, record)


def _complete_size(src: BinaryIO, size: int) -> int:
    """Bytes up to and including the last newline within the first ``size`` bytes."""
    pos = size
    while pos > 0:
        step = min(_CHUNK, pos)
        src.seek(pos - step)
        block = src.read(step)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return pos - step + nl + 1
        pos -= step
    return 0


def _target(dest: Path, src_path: Path, now: datetime, src: BinaryIO, size: int) -> Path:
    n = 1
    while True:
        candidate = dest / archive_name(src_path, now, n)
        if not candidate.exists() or _is_prefix(candidate, src, size):
            return candidate
        n += 1


def _is_prefix(gz_path: Path, src: BinaryIO, size: int) -> bool:
    """Whether ``gz_path`` decompresses to a prefix of the first ``size`` bytes of ``src``."""
    src.seek(0)
    done = 0
    try:
        with gzip.open(gz_path, "rb") as old:
            while chunk := old.read(_CHUNK):
                done += len(chunk)
                if done > size or src.read(len(chunk)) != chunk:
                    return False
    except (OSError, EOFError, zlib.error):
        return False  # unreadable: keep it, as evidence
    return True


def _compress(src: BinaryIO, size: int, tmp: Path, now: datetime) -> str:
    """Gzip the first ``size`` bytes of ``src`` into ``tmp``, fsync'd; the SHA-256 hex of those bytes."""
    digest = hashlib.sha256()
    src.seek(0)
    remaining = size
    with tmp.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=int(now.timestamp())) as gz:
            while remaining:
                chunk = src.read(min(_CHUNK, remaining))
                if not chunk:
                    raise AuditArchiveError(f"the log shrank while it was archived ({remaining} bytes short)")
                digest.update(chunk)
                gz.write(chunk)
                remaining -= len(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    return digest.hexdigest()


def _gunzip_digest(gz_path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with gzip.open(gz_path, "rb") as gz:
        while chunk := gz.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
