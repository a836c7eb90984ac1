"""``agenthedge drill kill-switch``, ``backup`` and ``restore``: exit codes 0 / 1 and what they print."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from app.cli import cli
from runtime.lock import HomeLock

ENV = {"RUNTIME_OPERATORS": "alice", "AGENTHEDGE_BUS": "memory://", "AGENTHEDGE_ENV": "clitest"}


def invoke(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], env=ENV)
    return result.exit_code, result.output


def test_the_drill_runs_the_deployments_agents_on_a_temporary_home(tmp_path: Path) -> None:
    home = tmp_path / "live"
    code, out = invoke(home, "drill", "kill-switch", "--raw")
    report = json.loads(out)
    assert code == 0, report["checks"]
    assert report["ok"] is True
    assert report["time_to_halt_ms"] > 0
    assert all(state["safe"] for state in report["safe_states"].values())
    assert set(report["safe_states"]) == set(report["agents"])
    assert sorted(p.name for p in home.iterdir()) == ["drills"]  # the live home got the report, nothing else


def test_backup_and_restore_round_trip_and_refusals(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke(home, "scheduler", "run-once", "health_check")[0] == 0  # a home with a ledger and an audit log
    code, out = invoke(home, "backup", "--dest", str(tmp_path / "bk"))
    assert code == 0, out
    assert "chain verified" in out
    code, out = invoke(home, "restore", "--from", str(tmp_path / "bk"))
    assert code == 1
    assert "refusing to overwrite a live home" in out
    code, out = invoke(tmp_path / "fresh", "restore", "--from", str(tmp_path / "bk"), "--raw")
    assert code == 0, out
    assert json.loads(out)["checks"]["ledger.sqlite"]["differing_tables"] == []
    lock = HomeLock(home)
    lock.acquire("daemon")
    try:
        code, out = invoke(home, "restore", "--from", str(tmp_path / "bk"), "--force")
    finally:
        lock.release()
    assert code == 1
    assert "held by daemon pid" in out


def test_backup_of_an_empty_home_is_refused(tmp_path: Path) -> None:
    code, out = invoke(tmp_path / "empty", "backup", "--dest", str(tmp_path / "bk"))
    assert code == 1
    assert "no ledger" in out
