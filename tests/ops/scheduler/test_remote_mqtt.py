"""``scheduler run-once`` from another process, against a daemon on a real mosquitto."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from ops.scheduler import approve
from runtime.agent import AgentRegistry
from runtime.clock import WallClock
from runtime.control import ControlService
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from tests.mqtt_broker import Mosquitto
from tests.ops.scheduler.harness import Limits, TradingAgent

pytestmark = pytest.mark.mqtt


async def test_run_once_reaches_the_daemon_over_mqtt(mosquitto: Mosquitto, bus_env: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    core = CoreSettings(home=home, bus=mosquitto.url, env=bus_env)
    agent = TradingAgent()
    rt = Runtime(
        core, RuntimeSettings(operators=["alice"], heartbeat_interval=3600), AgentRegistry([agent]), clock=WallClock()
    )
    await rt.start(role="daemon")
    control = ControlService(rt)
    await control.start()
    try:
        await approve(rt, Limits()(), operator="alice", reason="baseline")
        env = {**os.environ, "RUNTIME_OPERATORS": "alice"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "--home",
            str(home),
            "--bus",
            mosquitto.url,
            "--env",
            bus_env,
            "scheduler",
            "run-once",
            "reconciliation",
            "--raw",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        record = json.loads(out)
        assert record["status"] == "ok"
        assert record["state_seen"]["state"] == "RUNNING"  # read from the daemon's ledger, read-only
        assert (home / "scheduler" / "runs").is_dir()  # the remote scheduler keeps its own run records
    finally:
        await control.stop()
        await rt.stop()
