"""Where a run's artifacts live and how they are written: ``<home>/backtests/<run_id>/``.

::

    result.json        the outcome: NAV curve, trades, fills, per-symbol P&L, metrics (deterministic)
    run.json           run id, wall-clock times, throughput, code version (what differs between reruns)
    config.json        every setting, the spec, the input data's hashes: enough to reproduce the run
    portfolio.json     the books at the end
    performance.json   the council's tracker weights (what a promotion installs)
    audit.jsonl        the run's own audit log (a copy; the run's home is ``home/`` beside it)
    equity.svg         equity and drawdown chart
    promotion.json/.md the last promotion attempt's report (written by ``backtest promote``)

JSON is written canonically (sorted keys, two-space indent, no NaN) and atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from agents.market import FIELDS, MarketData

BACKTESTS = "backtests"
RUN_ID = re.compile(r"^bt-[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")


class RunNotFound(Exception):
    """No such run under the home's ``backtests/``."""


def new_run_id(now: datetime) -> str:
    """``bt-YYYYMMDDTHHMMSS-xxxxxx``: sortable by start time, unique by the random suffix."""
    return f"bt-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunPaths:
    """The files of one run."""

    run_id: str
    dir: Path

    @classmethod
    def of(cls, home: Path, run_id: str) -> RunPaths:
        if not RUN_ID.match(run_id):
            raise RunNotFound(f"{run_id!r} is not a backtest run id (bt-YYYYMMDDTHHMMSS-xxxxxx)")
        return cls(run_id, home / BACKTESTS / run_id)

    @classmethod
    def existing(cls, home: Path, run_id: str) -> RunPaths:
        paths = cls.of(home, run_id)
        if not paths.result.is_file():
            raise RunNotFound(f"no finished backtest {run_id} under {home / BACKTESTS}")
        return paths

    @property
    def home(self) -> Path:
        """The run's own AGENTHEDGE home: its ledger, audit log and paper broker, apart from live."""
        return self.dir / "home"

    @property
    def result(self) -> Path:
        return self.dir / "result.json"

    @property
    def run(self) -> Path:
        return self.dir / "run.json"

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def portfolio(self) -> Path:
        return self.dir / "portfolio.json"

    @property
    def performance(self) -> Path:
        return self.dir / "performance.json"

    @property
    def audit(self) -> Path:
        return self.dir / "audit.jsonl"

    @property
    def chart(self) -> Path:
        return self.dir / "equity.svg"

    @property
    def promotion_json(self) -> Path:
        return self.dir / "promotion.json"

    @property
    def promotion_md(self) -> Path:
        return self.dir / "promotion.md"


def canonical_json(data: Any) -> str:
    """Sorted keys, two-space indent, no NaN/Infinity (a non-finite number is a bug upstream)."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str) -> None:
    """Write ``text`` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> str:
    """Write canonical JSON atomically; returns its SHA-256."""
    text = canonical_json(data)
    write_text(path, text)
    return hashlib.sha256(text.encode()).hexdigest()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bars_hash(data: MarketData, until: date) -> tuple[str, int]:
    """SHA-256 of the bars the run could see (every symbol, every session up to ``until``) and their count.

    Canonical: the symbols and ISO dates as JSON, then each field's float64 panel (C order, NaN where a symbol
    has no bar) in :data:`agents.market.FIELDS` order.
    """
    rows = data.row_of(until) + 1
    digest = hashlib.sha256()
    digest.update(json.dumps([data.symbols, [d.isoformat() for d in data.dates[:rows]]]).encode())
    for name in FIELDS:
        panel = np.ascontiguousarray(data.panel[name][:rows], dtype=np.float64)
        digest.update(panel.tobytes())
    count = int((~np.isnan(data.panel["close"][:rows])).sum())
    return digest.hexdigest(), count


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout this code runs from, else the package version."""
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            if done.returncode == 0 and done.stdout.strip():
                return f"git:{done.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return f"agenthedge {metadata.version('agenthedge')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def list_runs(home: Path) -> list[RunPaths]:
    """The finished runs under ``<home>/backtests``, oldest first."""
    base = home / BACKTESTS
    if not base.is_dir():
        return []
    found = sorted(base.iterdir())
    return [RunPaths(p.name, p) for p in found if RUN_ID.match(p.name) and (p / "result.json").is_file()]
