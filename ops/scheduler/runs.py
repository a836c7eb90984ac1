"""Where each run's outcome is kept, so a restart never runs a session's job twice nor forgets a miss.

In-process the record is a ledger kv document (namespace ``scheduler.runs``, transactional and inside the
backups); a scheduler driving a remote daemon keeps one JSON file per run under ``<home>/scheduler/runs/``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from storage.artifacts import write_json_atomic
from storage.ledger import Ledger

Outcome = Literal["ok", "skipped", "blocked", "failed", "missed"]
NAMESPACE = "scheduler.runs"


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a job body returns."""

    status: Outcome
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run (or miss) of one job, as recorded and returned by the runner."""

    run_id: str
    job: str
    day: str
    scheduled_for: str
    started: str
    finished: str
    status: Outcome
    message: str
    state_seen: dict[str, Any]
    manual: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(**data)


class RunStore(Protocol):
    async def get(self, run_id: str) -> RunRecord | None: ...

    async def put(self, record: RunRecord) -> None: ...


class KvRunStore:
    """Runs in the ledger's kv table (the runtime's own writer, in-process)."""

    def __init__(self, ledger: Ledger, clock: Any) -> None:
        self.ledger = ledger
        self.clock = clock

    async def get(self, run_id: str) -> RunRecord | None:
        found = await self.ledger.get_json(NAMESPACE, run_id)
        return RunRecord.from_json(found) if found else None

    async def put(self, record: RunRecord) -> None:
        now: datetime = self.clock.now()
        await self.ledger.put_json(NAMESPACE, record.run_id, record.to_json(), ts=now)


class FileRunStore:
    """Runs as ``<dir>/<run id>.json`` (a scheduler that reaches its runtime over the bus)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    async def get(self, run_id: str) -> RunRecord | None:
        path = self._path(run_id)
        if not path.exists():
            return None
        raw = await asyncio.to_thread(path.read_text, "utf-8")
        return RunRecord.from_json(json.loads(raw))

    async def put(self, record: RunRecord) -> None:
        await asyncio.to_thread(write_json_atomic, self._path(record.run_id), record.to_json())
