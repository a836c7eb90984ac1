"""``agenthedge backup``: the ledger (and every other SQLite file of the home) and the audit log, verified.

Safe beside a running daemon. Order matters: the databases first, through SQLite's online backup API (a
consistent snapshot under a read transaction), then the audit log's complete lines. The runtime writes an
audit line before it records that line as the ledger's audit head, so a log copied after the ledger holds
the head the copied ledger names; :func:`storage.audit.verify` checks the copy against exactly that head.
Archived audit files and incident folders are copied as they are. A ``manifest.json`` written last lists
every file with its SHA-256 and every table with its row count and a digest of its rows: a backup without
a manifest is incomplete, and restore trusts nothing the manifest does not vouch for.
"""

from __future__ import annotations

import json
import platform
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.maintenance._sqlite import (
    audit_head,
    complete_lines_size,
    copy_durably,
    integrity,
    online_backup,
    open_readonly,
    sha256_file,
    table_stats,
    user_version,
)
from storage.artifacts import write_json_atomic
from storage.audit import AUDIT_FILE, verify

MANIFEST = "manifest.json"
FORMAT = 1
LEDGER = "ledger.sqlite"


class MaintenanceError(Exception):
    """A backup or restore that must not go on; the message says why."""


@dataclass
class BackupResult:
    dest: Path
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def backup_home(home: Path, dest: Path, *, now: datetime, archive_dir: Path | None = None) -> BackupResult:
    """Back up ``home`` into the new directory ``dest``.

    Raises:
        MaintenanceError: no ledger in ``home``, or ``dest`` exists and is not empty.
    """
    ledger = home / LEDGER
    if not ledger.exists():
        raise MaintenanceError(f"no ledger at {ledger}: nothing to back up")
    if dest.exists() and any(dest.iterdir()):
        raise MaintenanceError(f"{dest} exists and is not empty: a backup goes into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    databases: dict[str, Any] = {}
    for source in [ledger, *sorted(p for p in home.glob("*.sqlite") if p.name != LEDGER)]:
        copy = dest / source.name
        online_backup(source, copy)
        conn = open_readonly(copy)
        try:
            checked = integrity(conn)
            databases[source.name] = {
                "integrity": checked,
                "user_version": user_version(conn),
                "tables": table_stats(conn),
                "audit_head": audit_head(conn) if source.name == LEDGER else None,
            }
        finally:
            conn.close()
        if checked != "ok":
            problems.append(f"{source.name}: integrity check: {checked}")
    head = databases[LEDGER]["audit_head"]
    audit = _copy_audit(home, dest, head, problems)
    archives = _copy_archives(archive_dir or home / "audit" / "archive", dest, problems)
    incidents = home / "incidents"
    if incidents.is_dir():
        shutil.copytree(incidents, dest / "incidents")
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "source_home": str(home.resolve()),
        "host": platform.node(),
        "databases": databases,
        "audit": audit,
        "archives": archives,
        "files": {str(p.relative_to(dest)): _file_entry(p) for p in sorted(dest.rglob("*")) if p.is_file()},
        "problems": problems,
    }
    write_json_atomic(dest / MANIFEST, manifest)
    return BackupResult(dest, manifest, problems)


def _copy_audit(home: Path, dest: Path, head: Any, problems: list[str]) -> dict[str, Any]:
    source = home / AUDIT_FILE
    if not source.exists():
        if head is not None:
            problems.append(f"the ledger names audit head seq {head[0]} but {source} is missing")
        return {"present": False}
    copy = dest / AUDIT_FILE
    copy_durably(source, copy, limit=complete_lines_size(source))
    result = verify(copy, expected_head=tuple(head) if head else None)
    if not result.ok:
        problems.append(f"audit log: {result.message} (line {result.first_bad_line})")
    return {
        "present": True,
        "lines": result.lines,
        "verified": result.ok,
        "message": result.message,
        "head": list(result.head) if result.head else None,
    }


def _copy_archives(folder: Path, dest: Path, problems: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not folder.is_dir():
        return out
    for archive in sorted(folder.glob("*.jsonl.gz")):
        copy = dest / "audit" / "archive" / archive.name
        copy_durably(archive, copy)
        result = verify(copy)
        if not result.ok:
            problems.append(f"archive {archive.name}: {result.message}")
        out.append({"name": archive.name, "verified": result.ok, "lines": result.lines})
    return out


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.exists():
        raise MaintenanceError(f"{source} has no {MANIFEST}: not a complete agenthedge backup")
    manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise MaintenanceError(f"backup format {manifest.get('format')!r} is not {FORMAT}: restore with its version")
    return manifest


def check_files(source: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file the manifest lists, present with its SHA-256; nothing unlisted."""
    problems: list[str] = []
    listed: dict[str, Any] = manifest["files"]
    for name, entry in listed.items():
        path = source / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{name}: SHA-256 differs from the manifest")
    extra = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()} - set(listed) - {MANIFEST}
    problems += [f"{name}: not in the manifest" for name in sorted(extra)]
    return problems
