"""Run ids, canonical JSON, the bars hash, the list of runs."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agents.data import Bar
from agents.market import MarketData
from ops.backtest.artifacts import (
    RunNotFound,
    RunPaths,
    bars_hash,
    canonical_json,
    code_version,
    list_runs,
    new_run_id,
    write_json,
)


def test_run_ids_sort_by_time_and_are_checked() -> None:
    a = new_run_id(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    b = new_run_id(datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert a.startswith("bt-20240102T030405-")
    assert a < b
    home = Path("/h")
    assert RunPaths.of(home, a).dir == home / "backtests" / a
    for bad in ("../etc", "bt-1", "bt-20240102T030405-XYZXYZ", ""):
        with pytest.raises(RunNotFound):
            RunPaths.of(home, bad)


def test_canonical_json_is_sorted_and_refuses_nan(tmp_path: Path) -> None:
    assert canonical_json({"b": 1, "a": [1.5, None]}) == '{\n  "a": [\n    1.5,\n    null\n  ],\n  "b": 1\n}\n'
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": math.nan})
    digest = write_json(tmp_path / "x" / "f.json", {"k": 1})
    assert json.loads((tmp_path / "x" / "f.json").read_text()) == {"k": 1}
    assert len(digest) == 64
    assert not list((tmp_path / "x").glob(".*tmp"))


def _data(close: float) -> MarketData:
    bars = {
        "A": [Bar("A", date(2024, 1, 2), 10, 11, 9, 10.5, 100), Bar("A", date(2024, 1, 3), 10, 11, 9, close, 100)],
        "B": [Bar("B", date(2024, 1, 3), 5, 6, 4, 5.5, 50)],
    }
    return MarketData(bars)


def test_bars_hash_sees_every_value_up_to_the_end_only() -> None:
    h1, n1 = bars_hash(_data(10.7), date(2024, 1, 3))
    h2, _ = bars_hash(_data(10.7), date(2024, 1, 3))
    h3, _ = bars_hash(_data(10.8), date(2024, 1, 3))
    h4, n4 = bars_hash(_data(10.8), date(2024, 1, 2))
    h5, _ = bars_hash(_data(10.7), date(2024, 1, 2))
    assert h1 == h2
    assert h1 != h3
    assert n1 == 3
    assert n4 == 1
    assert h4 == h5  # a later bar's change is not part of a run that ended before it


def test_list_runs_finds_finished_runs_only(tmp_path: Path) -> None:
    done = RunPaths.of(tmp_path, "bt-20240102T030405-abcdef")
    write_json(done.result, {"metrics": {}})
    RunPaths.of(tmp_path, "bt-20240102T030406-abcdef").dir.mkdir(parents=True)  # still running / crashed
    (tmp_path / "backtests" / "notes").mkdir()
    assert [p.run_id for p in list_runs(tmp_path)] == [done.run_id]
    assert RunPaths.existing(tmp_path, done.run_id) == done
    with pytest.raises(RunNotFound):
        RunPaths.existing(tmp_path, "bt-20240102T030406-abcdef")
    assert list_runs(tmp_path / "nowhere") == []


def test_code_version_names_the_checkout_or_the_package() -> None:
    assert code_version().startswith(("git:", "agenthedge ", "unknown"))
