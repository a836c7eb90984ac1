"""``agenthedge restore --from DIR --verify``: a backup back into a home no runtime is using.

Before touching the home: the backup's every file is checked against its manifest (SHA-256). Then the
home's lock (:class:`runtime.lock.HomeLock`) is taken for the whole restore, so a running daemon makes the
restore refuse and no daemon can start half way. A home that already holds a ledger or an audit log is
refused unless ``force``; with it, those files are moved aside to ``<home>/pre-restore-<ts>/``, never deleted.
Verification after the copy: ``PRAGMA integrity_check`` of every restored database, every table's row
count and row digest equal to the backup's, the audit chain verified against the restored ledger's head,
and every restored file's SHA-256 equal to the manifest's.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.maintenance._sqlite import audit_head, copy_durably, integrity, open_readonly, sha256_file, table_stats
from ops.maintenance.backup import LEDGER, MANIFEST, MaintenanceError, check_files, read_manifest
from runtime.lock import HomeLock
from storage.audit import AUDIT_FILE, verify

_LIVE = ("audit", "incidents")
_SIDECARS = ("", "-wal", "-shm", "-journal")


@dataclass
class RestoreResult:
    home: Path
    restored: list[str]
    moved_aside: Path | None
    checks: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def restore_home(source: Path, home: Path, *, now: datetime, force: bool = False, check: bool = True) -> RestoreResult:
    """Restore the backup in ``source`` into ``home``.

    Raises:
        MaintenanceError: the backup is incomplete or altered, or the home is live and ``force`` not given.
        runtime.lock.HomeLocked: a runtime holds the home.
    """
    manifest = read_manifest(source)
    damaged = check_files(source, manifest)
    if damaged:
        raise MaintenanceError("the backup does not match its manifest: " + "; ".join(damaged))
    home.mkdir(parents=True, exist_ok=True)
    lock = HomeLock(home)
    lock.acquire("restore")
    try:
        # every database of the backup with its journal files: a stale -wal beside a restored file would be
        # replayed into it by SQLite on the next open
        candidates = [*_LIVE, *(f"{db}{suffix}" for db in manifest["databases"] for suffix in _SIDECARS)]
        live = [home / name for name in dict.fromkeys(candidates) if (home / name).exists()]
        aside: Path | None = None
        if live:
            if not force:
                names = ", ".join(p.name for p in live)
                raise MaintenanceError(
                    f"{home} already holds {names}: refusing to overwrite a live home (--force moves them aside)"
                )
            aside = home / f"pre-restore-{now:%Y%m%dT%H%M%S}"
            aside.mkdir()
            for path in live:
                shutil.move(path, aside / path.name)
        restored = []
        for name in manifest["files"]:
            copy_durably(source / name, home / name)
            restored.append(name)
        result = RestoreResult(home, restored, aside)
        if check:
            result.checks, result.problems = verify_restore(home, manifest)
        return result
    finally:
        lock.release()


def verify_restore(home: Path, manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check a restored home against the manifest of the backup it came from."""
    checks: dict[str, Any] = {}
    problems: list[str] = []
    head: tuple[int, str] | None = None
    for name, expected in manifest["databases"].items():
        conn = open_readonly(home / name)
        try:
            found_integrity = integrity(conn)
            stats = table_stats(conn)
            if name == LEDGER:
                head = audit_head(conn)
        finally:
            conn.close()
        differing = sorted(t for t in set(stats) | set(expected["tables"]) if stats.get(t) != expected["tables"].get(t))
        checks[name] = {"integrity": found_integrity, "tables": len(stats), "differing_tables": differing}
        if found_integrity != "ok":
            problems.append(f"{name}: integrity check: {found_integrity}")
        problems += [
            f"{name}: table {t} differs from the backup ({_rows(stats, t)} vs {_rows(expected['tables'], t)} rows)"
            for t in differing
        ]
    if manifest["audit"].get("present"):
        result = verify(home / AUDIT_FILE, expected_head=head)
        checks["audit"] = {"verified": result.ok, "lines": result.lines, "message": result.message}
        if not result.ok:
            problems.append(f"audit log: {result.message}")
    for name, entry in manifest["files"].items():
        if sha256_file(home / name) != entry["sha256"]:
            problems.append(f"{name}: restored file differs from the backup")
    checks["files"] = len(manifest["files"])
    return checks, problems


def _rows(stats: dict[str, Any], table: str) -> Any:
    entry = stats.get(table)
    return entry["rows"] if entry else "no"


__all__ = ["MANIFEST", "RestoreResult", "restore_home", "verify_restore"]
