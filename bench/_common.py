"""What every bench shares: an aligned table on stdout and a JSON record in ``bench/results/<name>.json``.

A row is a flat mapping; the columns are the union of the rows' keys in first-seen order. Give a row a
``target`` (text such as ``>= 300k msg/s``) and an ``ok`` (bool) and the table shows PASS/FAIL beside it.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

Row = Mapping[str, object]


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, interpolated (the same method on every bench)."""
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return float(samples[0])
    cuts = statistics.quantiles(samples, n=1000, method="inclusive")
    index = min(len(cuts) - 1, max(0, round(q * 1000) - 1))
    return cuts[index]


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def format_table(rows: Sequence[Row]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) or row.get(c) is None for row in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(r) for r in cells)])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def report(name: str, rows: Sequence[Row], *, meta: Mapping[str, object] | None = None) -> Path:
    """Print ``rows`` as a table and write them, with the machine they ran on, to the results file."""
    print(f"\n{name}")
    print(format_table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "name": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "platform": platform.platform(),
        **(dict(meta) if meta else {}),
        "rows": [dict(r) for r in rows],
    }
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"-> {path.relative_to(RESULTS.parent.parent)}")
    return path
