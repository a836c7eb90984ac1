"""The daemon's services, end to end over mosquitto: /metrics served, alert verbs on the control topics, the
scheduler hosted, all of it stopped cleanly by SIGTERM."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from runtime.bus import create_bus
from runtime.control import ControlClient
from runtime.payloads import ControlRequest
from tests.app.daemon_harness import Deployment
from tests.app.test_daemon_mqtt import wait_online
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.mqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_daemon_serves_metrics_alert_verbs_and_the_schedule(
    tmp_path: Path, mosquitto: Mosquitto, bus_env: str
) -> None:
    port = free_port()
    deployment = Deployment(
        home=tmp_path / "home",
        bus=mosquitto.url,
        env=bus_env.lower().replace("_", "-")[:30],
        extra_env={"PROMETHEUS_METRICS_PORT": str(port)},
    )
    bus = create_bus(deployment.bus, deployment.env)
    await bus.start()
    try:
        with deployment.daemon() as proc:  # the default: the runbook's schedule
            await wait_online(bus, proc.pid)
            client = ControlClient(bus, "alice")
            kill = await client.send("kill", ControlRequest(reason="services test"))
            assert kill.ok, kill.message
            listed = await client.send("alerts", ControlRequest(args={"all": True}))
            assert listed.ok, listed.message
            alert = next(a for a in listed.data["alerts"] if a["action"] == "runtime_kill_switch")
            acked = await client.send("ack", ControlRequest(args={"alert_id": alert["id"]}))
            assert acked.ok, acked.message
            assert "acknowledged by alice" in acked.message
            async with httpx.AsyncClient() as http:
                scrape = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=10)).text
            assert "runtime_bus_depth" in scrape
            assert 'runtime_state{state="HALTED"} 1.0' in scrape
            assert "runtime_kill_switch_active 1.0" in scrape
            assert "scheduler_job" in scrape
            assert proc.poll() is None
        assert proc.returncode == 0, deployment.daemon_log()
    finally:
        await bus.close()
    log = (deployment.home / "logs" / "agenthedge.log").read_text()
    assert '"run_id"' in log  # JSON lines with the run id
