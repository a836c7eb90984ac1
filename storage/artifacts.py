"""Files the runtime leaves for people: incident folders (and, later, backtest runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def incident_dir(home: Path, incident_id: str) -> Path:
    return home / "incidents" / incident_id


def write_incident(home: Path, incident_id: str, snapshot: dict[str, Any]) -> Path:
    """``<home>/incidents/<id>/incident.json`` (what and why) and ``forensics.json`` (the full snapshot)."""
    folder = incident_dir(home, incident_id)
    summary = {key: snapshot[key] for key in ("incident", "metrics", "still_open") if key in snapshot}
    write_json_atomic(folder / "incident.json", summary)
    write_json_atomic(folder / "forensics.json", snapshot)
    return folder


def read_incident(home: Path, incident_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((incident_dir(home, incident_id) / "forensics.json").read_text("utf-8"))
    return data
