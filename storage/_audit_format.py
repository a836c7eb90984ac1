"""The audit log's record format: canonical JSON, the hash chain, and decoding one line.

Private; :mod:`storage.audit` is the public face. Everything here is pure (no I/O).

A line is the canonical JSON (``sort_keys``, separators ``(",", ":")``, ``ensure_ascii=False``) of the
record followed by ``\\n``. ``hash`` is the SHA-256 hex digest of the canonical JSON of every other field,
``prev`` included, so each line commits to the whole chain before it. Because the line *is* the canonical
form, a reader also checks that re-serialising the parsed record gives back the exact bytes: without that
check a change such as ``\\u001f`` -> ``\\u001F`` or ``1e+16`` -> ``1E+16`` would parse to the same values
and pass the hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import PurePath
from typing import Any, NamedTuple
from uuid import UUID

GENESIS_PREV = "0" * 64
"""``prev`` of the first record of a log that does not continue an earlier file."""

ROTATED_EVENT = "audit.rotated"
"""Event of the first record of a file started by a rotation; it links to the archived file."""

REQUIRED_FIELDS = ("seq", "ts", "run_id", "env", "event", "actor", "data", "prev", "hash")
_STR_FIELDS = ("run_id", "env", "event", "actor")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class VerifyReason(StrEnum):
    """Why a line of the audit log failed verification."""

    UNPARSEABLE = "unparseable"
    """Not UTF-8, not JSON, not an object, or an empty line."""
    HASH_MISMATCH = "hash_mismatch"
    """The content changed: the hash does not match, or the bytes are not the canonical form."""
    SEQ_GAP = "seq_gap"
    """``seq`` skips forward: lines are missing before this one."""
    CHAIN_BROKEN = "chain_broken"
    """``prev`` is not the previous line's hash (lines reordered, or a file spliced in)."""
    OUT_OF_ORDER = "out_of_order"
    """``seq`` does not increase (a line repeated or moved back)."""
    TRUNCATED = "truncated"
    """The last line has no trailing newline: a torn or cut-off write."""
    MISSING_FIELD = "missing_field"
    """A required field is absent."""
    INVALID_FIELD = "invalid_field"
    """A field has the wrong type or form (a hash-consistent line that no writer of ours produces)."""
    TAIL_MISSING = "tail_missing"
    """The file ends before the expected head: lines were deleted at the end."""


class AuditHead(NamedTuple):
    """The position of a record in the chain: its ``seq`` and ``hash``."""

    seq: int
    hash: str


class AuditError(Exception):
    """Base class of the audit log's errors."""


class AuditChainError(AuditError):
    """The log on disk is corrupt, so the chain cannot be trusted or extended.

    Attributes:
        path: The file.
        line: The 1-based line number at fault (``None`` if no single line is).
        reason: What is wrong with it.
    """

    def __init__(self, message: str, *, path: str, line: int | None, reason: VerifyReason) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason.value}: {message}")
        self.path = path
        self.line = line
        self.reason = reason


class AuditLockedError(AuditError):
    """Another writer (this process or another) holds the log."""


class AuditArchiveError(AuditError):
    """An archive did not match its source after it was written."""


class LineError(Exception):
    """A single line failed to decode or check; carries the reason."""

    def __init__(self, reason: VerifyReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces, UTF-8 characters kept)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 hex over the canonical JSON of every field of ``record`` except ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    # surrogatepass: a tampered line may hold a lone surrogate; it must hash (and mismatch), not crash.
    return hashlib.sha256(canonical_json(body).encode("utf-8", "surrogatepass")).hexdigest()


def format_ts(moment: datetime) -> str:
    """``moment`` in UTC as ISO-8601 with microseconds and a ``Z``.

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit timestamps need an aware datetime (the clock returned a naive one)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_default(obj: Any) -> Any:
    """Plain-JSON form of the few non-JSON types a payload commonly carries."""
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Decimal | UUID | PurePath):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    dump = getattr(obj, "model_dump", None)  # a pydantic model, without importing pydantic here
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"audit data holds a {type(obj).__name__}, which is not JSON-serialisable")


def encode_record(body: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Hash a record and give back its plain-JSON form and the line to write.

    ``body`` is normalised to plain JSON first (tuples to lists, non-string keys to strings, the types of
    ``_json_default`` to strings), so that the written line is a fixed point of parse-then-serialise and
    the returned record equals what a reader will parse.

    Raises:
        TypeError: something in ``body`` is not serialisable.
        ValueError: NaN or infinity, or a string that is not valid Unicode.
    """
    try:
        text = json.dumps(body, default=_json_default, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"audit data holds a string that is not valid Unicode: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"audit data is not plain JSON: {exc}") from None
    record: dict[str, Any] = json.loads(text)
    record.pop("hash", None)
    canonical = canonical_json(record)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    record["hash"] = digest
    if "prev" in record and record.keys() <= _SPLICE_FIELDS:
        line = _with_hash(canonical, digest)
    else:  # a body with other fields (tools, tests): serialise again rather than reason about its text
        line = canonical_json(record)
    return record, (line + "\n").encode("utf-8")


# The fields of a record as AuditLog writes it: those sorted after "prev" (run_id, seq, tick_id, ts) hold a string,
# a number or null, never an object, so the last ',"prev":' of the canonical text is the top-level key.
_SPLICE_FIELDS = frozenset((*REQUIRED_FIELDS, "tick_id"))


def encode_line(body: Mapping[str, Any]) -> tuple[str, bytes]:
    """The hash and the line :func:`encode_record` gives for ``body``, without the parsed record.

    A body of plain JSON (string keys; lists, tuples, scalars, and the leaf types of ``_json_default`` that become a
    string) is serialised once, canonically: normalising it first (``json.dumps`` then ``json.loads``, what
    :func:`encode_record` does) could change nothing the canonical text shows. Any other body takes
    :func:`encode_record`'s path, errors included.

    Raises:
        TypeError, ValueError: as :func:`encode_record`.
    """
    if "prev" in body and "hash" not in body and body.keys() <= _SPLICE_FIELDS:
        try:
            if _plain(body):
                canonical = _canonical_plain(body).encode("utf-8")  # strict: a lone surrogate takes the slow path
                digest = hashlib.sha256(canonical).hexdigest()
                at = canonical.rfind(b',"prev":')
                return digest, b'%s,"hash":"%s"%s\n' % (canonical[:at], digest.encode(), canonical[at:])
        except (TypeError, ValueError, RecursionError, _NotPlain):  # a cycle, a deep nest, NaN, something odd
            pass
    record, line = encode_record(body)
    return record["hash"], line


class _NotPlain(Exception):
    """A leaf the fast path leaves to :func:`encode_record`."""


_LEAVES = frozenset((str, int, float, bool, type(None)))
_STRINGS = (datetime, date, Decimal, UUID, PurePath)  # what _json_default turns into a string


def _plain(obj: Mapping[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Whether every dict in ``obj`` has string keys only and every container is a plain dict, list or tuple: then
    its canonical text equals that of its ``json.loads(json.dumps(...))``. Other leaves are checked as they are
    encoded (``_plain_default``). A cycle raises :class:`RecursionError`."""
    if type(obj) is dict:
        for key in obj:
            if type(key) is not str:  # 1 -> "1" sorts differently once a string; a str subclass: no guessing
                return False
        values: Any = obj.values()
    else:
        values = obj
    for value in values:
        kind = type(value)
        if kind in _LEAVES:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not _plain(value):
                return False
        elif isinstance(value, dict | list | tuple):  # a subclass the encoder walks as its base
            return False
    return True


def _plain_default(obj: Any) -> Any:
    """``_json_default`` for the leaves whose JSON form is a string or a plain scalar; others: the slow path."""
    if isinstance(obj, _STRINGS):
        return _json_default(obj)
    if isinstance(obj, Enum) and type(obj.value) in _LEAVES:
        return obj.value
    raise _NotPlain


# no check_circular: _plain has walked every container (a cycle raised there) and _plain_default returns a scalar
_canonical_plain = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False,
    default=_plain_default,
).encode  # fmt: skip


def _with_hash(canonical: str, digest: str) -> str:
    """The canonical text of the record with ``hash`` added (keys sorted: right before ``prev``), spliced in
    rather than serialised a second time."""
    at = canonical.rfind(',"prev":')
    return f'{canonical[:at]},"hash":"{digest}"{canonical[at:]}'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # "1e999" parses to inf, which no writer of ours can produce
        raise ValueError(f"number {text} is out of range")
    return value


def decode_line(raw: bytes) -> dict[str, Any]:
    """Parse one line (its trailing newline optional) and check it stands on its own.

    Checks, in order: UTF-8 and JSON object; required fields; the hash; the canonical form; field types.
    The hash comes before the types so that tampering is reported as such.

    Raises:
        LineError: the first check that failed.
    """
    body = raw[:-1] if raw.endswith(b"\n") else raw
    if not body:
        raise LineError(VerifyReason.UNPARSEABLE, "empty line")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(VerifyReason.UNPARSEABLE, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:
        raise LineError(VerifyReason.UNPARSEABLE, f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise LineError(VerifyReason.UNPARSEABLE, f"a JSON {type(obj).__name__}, not an object")
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        raise LineError(VerifyReason.MISSING_FIELD, f"missing {', '.join(missing)}")
    if not isinstance(obj["hash"], str):
        raise LineError(VerifyReason.INVALID_FIELD, "hash is not a string")
    if record_hash(obj) != obj["hash"]:
        raise LineError(VerifyReason.HASH_MISMATCH, "content does not match its hash")
    if canonical_json(obj) != text:
        raise LineError(VerifyReason.HASH_MISMATCH, "bytes differ from the canonical form of the record")
    _check_types(obj)
    return obj


def _check_types(obj: Mapping[str, Any]) -> None:
    def bad(message: str) -> LineError:
        return LineError(VerifyReason.INVALID_FIELD, message)

    seq = obj["seq"]
    if type(seq) is not int or seq < 1:
        raise bad(f"seq is {seq!r}, not a positive integer")
    for name in ("prev", "hash"):
        if not isinstance(obj[name], str) or not _HEX64.match(obj[name]):
            raise bad(f"{name} is not 64 lowercase hex digits")
    for name in _STR_FIELDS:
        if not isinstance(obj[name], str):
            raise bad(f"{name} is not a string")
    if not isinstance(obj["data"], dict):
        raise bad("data is not an object")
    tick_id = obj.get("tick_id")
    if tick_id is not None and not isinstance(tick_id, str):
        raise bad("tick_id is neither a string nor null")
    try:
        ts = datetime.fromisoformat(obj["ts"]) if isinstance(obj["ts"], str) else None
    except ValueError:
        ts = None
    if ts is None or ts.utcoffset() != timedelta(0):
        raise bad(f"ts {obj['ts']!r} is not a UTC ISO-8601 timestamp")


def link_error(
    prev: Mapping[str, Any] | None, record: Mapping[str, Any], start: AuditHead | None = None
) -> tuple[VerifyReason, str] | None:
    """How ``record`` fails to follow ``prev`` in the chain, or ``None`` if it follows.

    With ``prev`` ``None``, ``record`` is the first line of a file, which must be one of:

    * linked to ``start`` when given (the last record of the previous file), else
    * an ``audit.rotated`` record, linked to the ``last_seq``/``last_hash`` its own data names, else
    * a genesis record: ``seq`` 1 and ``prev`` 64 zeros.
    """
    if prev is not None:
        want = AuditHead(prev["seq"] + 1, prev["hash"])
        origin = f"seq {prev['seq']} before it"
    elif start is not None:
        want = AuditHead(start.seq + 1, start.hash)
        origin = f"the previous file's last record, seq {start.seq}"
    elif record["event"] == ROTATED_EVENT:
        data = record["data"]
        last_seq, last_hash = data.get("last_seq"), data.get("last_hash")
        if type(last_seq) is not int or not isinstance(last_hash, str):
            return VerifyReason.INVALID_FIELD, "rotation record lacks an integer last_seq and a last_hash"
        want = AuditHead(last_seq + 1, last_hash)
        origin = f"the archived file's last record, seq {last_seq}"
    else:
        want = AuditHead(1, GENESIS_PREV)
        origin = "the start of the log"
    seq = record["seq"]
    if seq < want.seq:
        return VerifyReason.OUT_OF_ORDER, f"seq {seq} after {origin}; expected {want.seq}"
    if seq > want.seq:
        return VerifyReason.SEQ_GAP, f"seq {seq} after {origin}; seq {want.seq}..{seq - 1} missing"
    if record["prev"] != want.hash:
        return VerifyReason.CHAIN_BROKEN, f"prev does not match the hash of {origin}"
    return None
