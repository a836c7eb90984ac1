"""``--config`` files and the operator's text views."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ops.backtest import RunPaths, write_json
from ops.backtest.render import run_rows, runs_table, summary
from ops.backtest.settings_file import apply_settings_file
from runtime.settings import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RISK_STOP_LOSS", "COMPLIANCE_WASH_WINDOW_DAYS", "RISK_SECTOR_MAP"):
        monkeypatch.delenv(key, raising=False)


def test_dotenv_lines_go_into_the_environment(tmp_path: Path) -> None:
    f = tmp_path / "run.env"
    f.write_text("# comment\n\nRISK_STOP_LOSS=0.5\nexport compliance_wash_window_days='0'\n")
    assert apply_settings_file(f) is None
    assert os.environ["RISK_STOP_LOSS"] == "0.5"
    assert os.environ["COMPLIANCE_WASH_WINDOW_DAYS"] == "0"


def test_a_json_object_goes_into_the_environment_structured_values_as_json(tmp_path: Path) -> None:
    f = tmp_path / "run.json"
    f.write_text(json.dumps({"RISK_STOP_LOSS": 0.25, "RISK_SECTOR_MAP": {"AAPL": "Tech"}}))
    assert apply_settings_file(f) is None
    assert os.environ["RISK_STOP_LOSS"] == "0.25"
    assert json.loads(os.environ["RISK_SECTOR_MAP"]) == {"AAPL": "Tech"}


def test_a_runs_config_json_is_returned_not_applied(tmp_path: Path) -> None:
    f = tmp_path / "config.json"
    f.write_text(json.dumps({"settings": {"risk": {"stop_loss": 0.3}}, "environment": {"RISK_STOP_LOSS": "0.3"}}))
    saved = apply_settings_file(f)
    assert saved is not None
    assert saved["settings"]["risk"]["stop_loss"] == 0.3
    assert "RISK_STOP_LOSS" not in os.environ


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not valid JSON"),
        ("RISK_STOP_LOSS=0.5\nRISK_STOP_LOSS 0.5\n", ":2: expected KEY=VALUE"),
        ("=0.5\n", ":1: expected KEY=VALUE"),
        ("[1, 2]", ":1: expected KEY=VALUE"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, why: str) -> None:
    f = tmp_path / "bad"
    f.write_text(text)
    with pytest.raises(ConfigError, match=why):
        apply_settings_file(f)


RESULT = {
    "spec": {"symbols": ["AAPL", "IBM"], "start": "2011-01-03", "end": "2011-12-30", "strategy": "sma-cross",
             "params": {"fast": 10, "slow": 30, "lot": 100}, "costs": "none"},
    "sessions": 252,
    "final_state": "RUNNING",
    "totals": {"fills": 40},
    "metrics": {"final_equity": 1_012_345.67, "total_return": 0.0123, "cagr": 0.0124, "volatility": 0.02,
                "sharpe": 0.6, "sortino": None, "calmar": 1.1, "max_drawdown": 0.011, "max_drawdown_days": 40,
                "turnover": 0.5, "hit_rate": 0.45, "profit_factor": 1.3, "avg_exposure": 0.05, "var_usage": 0.2,
                "trades": 20, "breaches": {}, "rejects": {"risk:var": 2}},
}  # fmt: skip


def test_summary_fits_one_screen_and_says_what_matters(tmp_path: Path) -> None:
    text = summary(RESULT, {"run_id": "bt-x", "bars": 504, "loop_seconds": 2.0, "bars_per_second": 252.0}, tmp_path)
    lines = text.splitlines()
    assert len(lines) <= 24
    assert all(len(line) <= 120 for line in lines)
    assert "sma-cross(fast=10, slow=30, lot=100)" in text
    assert "final equity 1,012,345.67" in text
    assert "Sortino n/a" in text  # undefined stays undefined
    assert "breaches: none" in text
    assert "rejects: risk:var 2" in text


def test_run_rows_and_table(tmp_path: Path) -> None:
    assert runs_table(run_rows(tmp_path)) == "no backtests yet"
    paths = RunPaths.of(tmp_path, "bt-20240102T030405-abcdef")
    write_json(paths.result, RESULT)
    write_json(paths.promotion_json, {"installed": False})
    (row,) = run_rows(tmp_path)
    assert row["promotion"] == "refused"
    assert row["trades"] == 20
    table = runs_table([row])
    assert "bt-20240102T030405-abcdef" in table
    assert "AAPL,IBM" in table
