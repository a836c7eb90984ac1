"""The agenthedge command line, run as the real executable: exit codes, refusals, the audit verifier."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.app.daemon_harness import Deployment


@pytest.fixture
def local(tmp_path: Path) -> Deployment:
    return Deployment(home=tmp_path / "home", bus="memory://", env="paper")


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"AGENTHEDGE_BUS": "http://nope"}, "AGENTHEDGE_BUS"),
        ({"AGENTHEDGE_ENV": "Bad Env!"}, "AGENTHEDGE_ENV"),
        ({"RUNTIME_RESUME_APPROVERS": "3"}, "RUNTIME_RESUME_APPROVERS"),
        ({"RUNTIME_TICK_INTERVAL": "-1"}, "RUNTIME_TICK_INTERVAL"),
        ({"RUNTIME_OPERATORS": "alice,b@d"}, "RUNTIME_OPERATORS"),
    ],
)
def test_bad_configuration_names_the_variable_and_exits_2(tmp_path: Path, extra: dict[str, str], variable: str) -> None:
    deployment = Deployment(home=tmp_path / "home", bus="", env="", extra_env=extra)
    done = deployment.cli_bare("runtime", "status")
    assert done.returncode == 2, done.stderr
    assert variable in done.stderr


def test_a_bad_option_value_exits_2(local: Deployment) -> None:
    local.bus = "mqtt://:99999"
    done = local.cli("runtime", "status")
    assert done.returncode == 2
    assert "AGENTHEDGE_BUS" in done.stderr


def test_usage_errors_exit_2(local: Deployment) -> None:
    assert local.cli("runtime", "no-such-verb").returncode == 2
    assert local.cli("runtime", "kill").returncode == 2  # --reason is required


def test_in_process_kill_and_signed_off_resume(local: Deployment) -> None:
    assert local.cli("runtime", "run-once").returncode == 0
    killed = local.cli("runtime", "kill", "--operator", "alice", "--reason", "manual halt")
    assert killed.returncode == 0, killed.stderr
    incident = local.json("runtime", "status", "--raw")["incident"]["id"]
    tick = local.cli("runtime", "run-once")
    assert tick.returncode == 1
    assert "skipped: runtime is HALTED" in tick.stderr
    refused = local.cli("runtime", "resume", "--operator", "alice", "--reason", "ok")
    assert refused.returncode == 1
    assert f"open incident: {incident}" in refused.stderr
    resumed = local.cli("runtime", "resume", "--operator", "alice", "--reason", "ok", "--incident", incident)
    assert resumed.returncode == 0, resumed.stderr
    assert local.json("runtime", "status", "--raw")["state"] == "RUNNING"


def test_health_is_json_and_exit_0_when_healthy(local: Deployment) -> None:
    done = local.cli("runtime", "health", "--raw")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    assert {"agents", "bus", "storage", "state", "kill_switch"} <= set(report)


def test_health_exits_1_when_the_broker_is_unreachable(local: Deployment) -> None:
    local.bus = "mqtt://127.0.0.1:1"
    done = local.cli("runtime", "health", "--raw")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["healthy"] is False
    assert "mqtt://127.0.0.1:1" in report["problems"][0]


def test_a_second_runtime_on_the_same_home_says_who_holds_it(local: Deployment) -> None:
    with local.daemon("--no-ticks") as proc:
        lock = local.home / "runtime.lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and str(proc.pid) in lock.read_text()):
            assert proc.poll() is None, local.daemon_log()
            assert time.monotonic() < deadline, "the daemon did not take the home"
            time.sleep(0.05)  # polling for the lock file, not waiting a guessed time
        done = local.cli("runtime", "pause", "--operator", "alice")
        assert done.returncode == 1
        assert f"held by daemon pid {proc.pid}" in done.stderr


# -- audit verify --------------------------------------------------------------------------------------


@pytest.fixture
def audited(local: Deployment) -> Path:
    for _ in range(3):
        assert local.cli("runtime", "run-once").returncode == 0
    assert local.cli("runtime", "pause", "--operator", "alice").returncode == 0
    return local.home / "audit" / "runtime_events.jsonl"


def test_audit_verify_passes_on_a_clean_log(local: Deployment, audited: Path) -> None:
    done = local.cli("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("case", ["flipped byte", "deleted line", "reordered lines", "truncated file"])
def test_audit_verify_names_the_first_bad_line(local: Deployment, audited: Path, case: str) -> None:
    lines = _lines(audited)
    assert len(lines) >= 8
    if case == "flipped byte":
        line = bytearray(lines[4])
        line[line.index(b'"event":"') + 9] ^= 0x01
        lines[4] = bytes(line)
        expected = 5
    elif case == "deleted line":
        del lines[4]
        expected = 5
    elif case == "reordered lines":
        lines[4], lines[5] = lines[5], lines[4]
        expected = 5
    else:
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
        expected = len(lines)
    audited.write_bytes(b"".join(lines))
    done = local.cli("audit", "verify", "--raw")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["first_bad_line"] == expected, result
    assert result["ok"] is False


def test_audit_verify_catches_lines_cut_from_the_end(local: Deployment, audited: Path) -> None:
    lines = _lines(audited)
    audited.write_bytes(b"".join(lines[:-2]))  # still a valid chain: only the ledger's head shows the loss
    done = local.cli("audit", "verify", "--raw")
    assert done.returncode == 1
    assert json.loads(done.stdout)["reason"] == "tail_missing"
