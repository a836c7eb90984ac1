"""Helpers shared by the audit log tests: a fixed clock and raw line surgery on real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storage.audit import AuditLog, canonical_json, record_hash

T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


class StepClock:
    """An injected clock: ``T0``, then one second later on every call."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        moment = self.now
        self.now += timedelta(seconds=1)
        return moment


def write_log(path: Path, n: int, *, first: int = 0) -> None:
    """Append ``n`` events (``note`` values ``event-<i>``) to the log at ``path``, then close it."""
    with AuditLog(path, run_id="run-1", env="test", clock=StepClock()) as log:
        for i in range(first, first + n):
            log.append("test.event", {"i": i, "note": f"event-{i:04d}"}, actor="tester", tick_id=f"t{i}")


def read_lines(path: Path) -> list[bytes]:
    """The file's lines, each with its newline (the last may lack one)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def record(line: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def rehashed(obj: dict[str, Any]) -> bytes:
    """A line for ``obj`` with a correct hash: a forgery that only the chain or the schema can catch."""
    body = {k: v for k, v in obj.items() if k != "hash"}
    body["hash"] = record_hash(body)
    return (canonical_json(body) + "\n").encode()
