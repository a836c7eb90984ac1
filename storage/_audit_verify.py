"""Verification of the audit log: one streaming pass that names the first bad line and why.

Private; :mod:`storage.audit` re-exports :func:`verify`, :func:`verify_chain` and :class:`VerifyResult`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage._audit_format import (
    ROTATED_EVENT,
    AuditHead,
    LineError,
    VerifyReason,
    decode_line,
    link_error,
)
from storage._audit_io import open_log


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of verifying an audit log.

    Attributes:
        path: The file verified (for :func:`verify_chain`, the failing file or the last one).
        ok: Whether every line checked out (and the expected head, if one was given, was found).
        lines: Lines examined, the bad one included.
        first_bad_line: 1-based number of the first bad line; for ``tail_missing``, the line where the
            missing records would start. ``None`` when ``ok``.
        reason: Why that line is bad; ``None`` when ``ok``.
        message: A sentence for an operator.
        head: ``(seq, hash)`` of the last good record, ``None`` if there was none.
        missing: The file does not exist.
    """

    path: str
    ok: bool
    lines: int
    first_bad_line: int | None = None
    reason: VerifyReason | None = None
    message: str = ""
    head: AuditHead | None = None
    missing: bool = False


def verify(
    path: str | os.PathLike[str],
    *,
    expected_head: tuple[int, str] | None = None,
    start: tuple[int, str] | None = None,
) -> VerifyResult:
    """Verify an audit log (plain or gzip) in one streaming pass; stop at the first bad line.

    Each line must decode (UTF-8, JSON object, required fields, its own hash, canonical bytes, field
    types) and follow the line before it (``seq`` one more, ``prev`` that line's hash). A ``seq`` that
    skips forward is a ``seq_gap`` (a deleted line), unless the next line fills the gap, in which case
    the lines were reordered and it is ``chain_broken`` at the first line out of place. A last line
    without its newline is ``truncated``.

    The first line of a file is either a genesis record (``seq`` 1, ``prev`` 64 zeros) or, after a weekly
    rotation, an ``audit.rotated`` record whose ``prev`` and ``seq`` continue the archived file's last
    record as named in its own ``data`` (``last_hash``, ``last_seq``). Such a file verifies on its own; to
    prove the link between files, pass ``start`` (the previous file's head) or use :func:`verify_chain`.

    Args:
        path: The log.
        expected_head: ``(seq, hash)`` of a record the log must hold, normally the head the runtime keeps
            in its ledger. Deleting lines at the end of a file leaves a valid chain; only this catches
            it (``tail_missing``). A log that has grown past the head is fine (the ledger records the
            head after the append, so a crash in between leaves the log ahead).
        start: ``(seq, hash)`` of the last record of the previous file; the first line must follow it.

    Returns:
        The result. A missing or empty file is ``ok`` with 0 lines (``missing`` says which), unless an
        ``expected_head`` says records should be there.
    """
    p = Path(path)
    expected = AuditHead(*expected_head) if expected_head is not None else None
    try:
        f = open_log(p)
    except FileNotFoundError:
        return _check_expected(_Scan(p), expected, missing=True)
    with f:
        scan = _Scan(p, AuditHead(*start) if start is not None else None, expected)
        failure = scan.run(f)
    return failure or _check_expected(scan, expected, missing=False)


def verify_chain(
    paths: Sequence[str | os.PathLike[str]], *, expected_head: tuple[int, str] | None = None
) -> VerifyResult:
    """Verify consecutive files of one log (archives oldest first, then the live file) as one chain.

    Each file must verify, and each file after the first must start where the one before it ended (its
    first record's ``prev`` and ``seq`` follow that file's head); ``expected_head`` applies to the last.
    This is the chain of custody across rotations.

    Returns:
        The first failure (``path`` names the file), or an ``ok`` result whose ``lines`` totals them all.
    """
    start: AuditHead | None = None
    total = 0
    result = VerifyResult(path="", ok=True, lines=0, message="no files given")
    for i, path in enumerate(paths):
        last = i == len(paths) - 1
        result = verify(path, start=start, expected_head=expected_head if last else None)
        total += result.lines
        if not result.ok:
            return result
        if result.head is None and not last:
            what = "missing" if result.missing else "empty"
            return VerifyResult(
                path=result.path,
                ok=False,
                lines=total,
                first_bad_line=1,
                reason=VerifyReason.CHAIN_BROKEN,
                message=f"file {i + 1} of {len(paths)} is {what}, so the chain cannot cross it",
                missing=result.missing,
            )
        start = result.head
    n = len(paths)
    return VerifyResult(
        path=result.path,
        ok=result.ok,
        lines=total,
        head=result.head,
        missing=result.missing,
        message=f"{n} file(s), {total} line(s) verified as one chain" if n else result.message,
    )


class _Scan:
    """State of one pass over one file."""

    def __init__(self, path: Path, start: AuditHead | None = None, expected: AuditHead | None = None) -> None:
        self.path = path
        self.start = start
        self.expected = expected
        self.lines = 0
        self.prev: dict[str, Any] | None = None
        self.first: dict[str, Any] | None = None
        self.at_expected: tuple[int, str] | None = None  # (line, hash) of the record at expected.seq

    @property
    def head(self) -> AuditHead | None:
        return AuditHead(self.prev["seq"], self.prev["hash"]) if self.prev is not None else None

    def fail(self, line: int, reason: VerifyReason, message: str) -> VerifyResult:
        return VerifyResult(
            path=str(self.path),
            ok=False,
            lines=self.lines,
            first_bad_line=line,
            reason=reason,
            message=f"line {line}: {message}",
            head=self.head,
        )

    def run(self, f: Any) -> VerifyResult | None:
        """Check every line; the failure, or ``None`` if all are good."""
        raw_lines: Iterator[bytes] = iter(f)
        try:
            for raw in raw_lines:
                self.lines += 1
                failure = self.check(raw, raw_lines)
                if failure is not None:
                    return failure
        except (gzip.BadGzipFile, EOFError, OSError, zlib.error) as exc:
            return self.fail(self.lines + 1, VerifyReason.UNPARSEABLE, f"compressed stream is corrupt ({exc})")
        return None

    def check(self, raw: bytes, rest: Iterator[bytes]) -> VerifyResult | None:
        line = self.lines
        if not raw.endswith(b"\n"):
            return self.fail(line, VerifyReason.TRUNCATED, "the last line is cut off (no trailing newline)")
        try:
            record = decode_line(raw)
        except LineError as exc:
            return self.fail(line, exc.reason, exc.message)
        problem = link_error(self.prev, record, self.start)
        if problem is not None:
            reason, message = problem
            if reason is VerifyReason.SEQ_GAP:
                # One line of lookahead tells a deletion from a reordering: after a swap the skipped seq
                # turns up next. Nothing past the failure is reported, so consuming it is harmless.
                filler = _seq_of(next(rest, b""))
                floor = self.prev["seq"] if self.prev is not None else 0
                if filler is not None and floor < filler < record["seq"]:
                    reason = VerifyReason.CHAIN_BROKEN
                    message = f"lines out of order: seq {record['seq']} is here and seq {filler} after it"
            return self.fail(line, reason, message)
        if self.first is None:
            self.first = record
        if self.expected is not None and record["seq"] == self.expected.seq:
            self.at_expected = (line, record["hash"])
        self.prev = record
        return None


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = decode_line(raw)["seq"]
    except LineError:
        return None
    return seq if isinstance(seq, int) else None


def _check_expected(scan: _Scan, expected: AuditHead | None, *, missing: bool) -> VerifyResult:
    """The result of a clean pass, judged against the expected head."""
    head, lines = scan.head, scan.lines
    what = "file does not exist" if missing else f"{lines} line(s) verified"

    def result(message: str) -> VerifyResult:
        return VerifyResult(path=str(scan.path), ok=True, lines=lines, message=message, head=head, missing=missing)

    if expected is None:
        return result(what if lines or missing else "file is empty")
    if head is None or head.seq < expected.seq:
        ends = "has no records" if head is None else f"ends at seq {head.seq}"
        return VerifyResult(
            path=str(scan.path),
            ok=False,
            lines=lines,
            first_bad_line=lines + 1,
            reason=VerifyReason.TAIL_MISSING,
            message=f"the file {ends} but the expected head is seq {expected.seq}: records deleted at the end",
            head=head,
            missing=missing,
        )
    if scan.at_expected is not None:
        line, found = scan.at_expected
        if found == expected.hash:
            return result(f"{what}; expected head seq {expected.seq} found at line {line}")
        return scan.fail(line, VerifyReason.HASH_MISMATCH, f"seq {expected.seq} is not the expected head")
    # The expected head predates this file; a rotation record names the archived file's last record.
    assert scan.first is not None
    data = scan.first["data"]
    if scan.first["event"] == ROTATED_EVENT and data.get("last_seq") == expected.seq:
        if data.get("last_hash") == expected.hash:
            return result(f"{what}; expected head is the archived file's last record")
        return scan.fail(1, VerifyReason.CHAIN_BROKEN, "the rotation record does not link to the expected head")
    return result(f"{what}; expected head seq {expected.seq} predates this file (not checked)")
