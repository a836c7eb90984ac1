"""The daemon over a real mosquitto, driven as an operator would: mosquitto_pub and the agenthedge CLI."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime import topics
from runtime.bus import Bus, Subscription, create_bus
from runtime.messages import Envelope, make
from runtime.payloads import KillSwitch, Presence, StateChanged, TickReport
from tests.app.daemon_harness import Deployment
from tests.mqtt_broker import Mosquitto, mosquitto_pub

pytestmark = pytest.mark.mqtt
WAIT = 30.0  # upper bound for something that must happen; never a wait for time to pass


@pytest.fixture
def deployment(tmp_path: Path, mosquitto: Mosquitto, bus_env: str) -> Deployment:
    return Deployment(
        home=tmp_path / "home",
        bus=mosquitto.url,
        env=bus_env.lower().replace("_", "-")[:30],
        extra_env={"RUNTIME_TICK_INTERVAL": "0.2"},
    )


@pytest.fixture
async def observer(deployment: Deployment) -> AsyncIterator[Bus]:
    bus = create_bus(deployment.bus, deployment.env)
    await bus.start()
    yield bus
    await bus.close()


async def wait_online(bus: Bus, pid: int) -> None:
    async with bus.subscribe(topics.STATE_CONNECTION) as sub:
        async with asyncio.timeout(WAIT):
            async for delivery in sub:
                presence = delivery.envelope.parsed(Presence)
                if presence.online and presence.pid == pid:
                    return


async def next_tick(sub: Subscription, status: str) -> TickReport:
    async with asyncio.timeout(WAIT):
        async for delivery in sub:
            report = delivery.envelope.parsed(TickReport)
            if report.status == status:
                return report
    raise AssertionError("unreachable")


async def next_state(sub: Subscription, state: str) -> StateChanged:
    async with asyncio.timeout(WAIT):
        async for delivery in sub:
            changed = delivery.envelope.parsed(StateChanged)
            if changed.state == state:
                return changed
    raise AssertionError("unreachable")


def ledger_rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


async def test_garbage_is_rejected_counted_and_the_daemon_keeps_ticking(
    deployment: Deployment, observer: Bus, mosquitto: Mosquitto
) -> None:
    ticks = observer.subscribe(topics.EVENT_TICK)
    await observer.wait_subscribed(ticks)
    with deployment.daemon("--interval", "0.2", "--no-metrics") as proc:
        await wait_online(observer, proc.pid)
        await next_tick(ticks, "completed")
        prefix = topics.prefix(deployment.env)
        garbage = {
            "not json": b"\x00\xffnot json at all",
            "wrong version": b'{"v": 99, "source": "x", "type": "kill_switch", "payload": {"reason": "r"}}',
            "oversized": b'{"pad": "' + b"x" * 300_000 + b'"}',
            "unknown type": make("no.such.type", {}, source="x").encode(),
            "bad payload": Envelope(source="x", type="kill_switch", payload={"reason": ""}).encode(),
        }
        for target in (
            topics.RISK_KILL_SWITCH,
            topics.COMPLIANCE_KILL_SWITCH,
            topics.RUNTIME_KILL_SWITCH,
            "control/alice/pause",
        ):
            for payload in garbage.values():
                mosquitto_pub(mosquitto, prefix + target, payload)
        await next_tick(ticks, "completed")  # still ticking after all of it
        health = deployment.json("runtime", "health", "--raw")
        assert proc.poll() is None
    assert health["healthy"] is True, health
    assert health["state"]["state"] == "RUNNING"
    rejected = health["bus"]["rejected"]
    assert sum(rejected.values()) >= len(garbage) * 4, rejected
    assert set(rejected) >= {"malformed", "oversized", "unknown_version", "unknown_type", "bad_payload"}


@pytest.mark.parametrize("kill_topic", topics.KILL_SWITCH_TOPICS)
async def test_a_kill_switch_through_the_broker_halts_and_the_halt_survives_a_restart(
    deployment: Deployment, observer: Bus, mosquitto: Mosquitto, kill_topic: str
) -> None:
    ticks = observer.subscribe(topics.EVENT_TICK)
    states = observer.subscribe(topics.STATE_RUNTIME)
    await observer.wait_subscribed()
    with deployment.daemon("--interval", "0.2", "--no-metrics") as proc:
        await wait_online(observer, proc.pid)
        await next_tick(ticks, "completed")  # orders are open now
        assert ledger_rows(deployment.home, "SELECT count(*) FROM orders WHERE status = 'acknowledged'")[0][0] > 0
        message = make("kill_switch", KillSwitch(reason="daily loss -5.4%", metrics={"day_pnl": -0.054}), source="risk")
        mosquitto_pub(mosquitto, topics.absolute(deployment.env, kill_topic), message.encode())
        halted = await next_state(states, "HALTED")
        incident_id = halted.incident_id
        assert incident_id
        await next_tick(ticks, "skipped")
        orders_when_halted = ledger_rows(deployment.home, "SELECT count(*) FROM orders")[0][0]
        await next_tick(ticks, "skipped")
        assert ledger_rows(deployment.home, "SELECT count(*) FROM orders")[0][0] == orders_when_halted
        assert proc.poll() is None
    assert proc.returncode == 0, deployment.daemon_log()  # SIGTERM is a clean stop
    assert ledger_rows(deployment.home, "SELECT state FROM runtime_state")[0][0] == "HALTED"
    assert ledger_rows(deployment.home, "SELECT count(*) FROM orders WHERE status != 'cancelled'")[0][0] == 0
    assert (deployment.home / "incidents" / incident_id / "forensics.json").exists()
    source = ledger_rows(deployment.home, f"SELECT source FROM incidents WHERE id = '{incident_id}'")[0][0]
    assert source == kill_topic.replace("/", ".")

    with deployment.daemon("--interval", "0.2", "--no-metrics") as proc:  # the restarted daemon is still HALTED
        await wait_online(observer, proc.pid)
        assert (await next_tick(ticks, "skipped")).state == "HALTED"
        status = deployment.json("runtime", "status", "--raw")
        assert (status["state"], status["incident"]["id"]) == ("HALTED", incident_id)
        refusals = {
            "no operator": ["runtime", "resume", "--reason", "fixed", "--incident", incident_id],
            "unknown operator": [
                "runtime",
                "resume",
                "--operator",
                "mallory",
                "--reason",
                "x",
                "--incident",
                incident_id,
            ],
            "empty reason": ["runtime", "resume", "--operator", "alice", "--reason", " ", "--incident", incident_id],
            "wrong incident": ["runtime", "resume", "--operator", "alice", "--reason", "x", "--incident", "INC-0"],
        }
        for label, argv in refusals.items():
            done = deployment.cli(*argv)
            assert done.returncode == 1, (label, done.stdout, done.stderr)
            assert "resume refused" in done.stderr, (label, done.stderr)
        done = deployment.cli(
            "runtime", "resume", "--operator", "alice", "--reason", "loss reviewed with risk", "--incident", incident_id
        )
        assert done.returncode == 0, done.stderr
        await next_state(states, "RUNNING")
        await next_tick(ticks, "completed")
    audit = (deployment.home / "audit" / "runtime_events.jsonl").read_text()
    assert audit.count('"event":"control.refused"') == len(refusals)
    assert '"loss reviewed with risk"' in audit
    verified = deployment.cli("audit", "verify")
    assert verified.returncode == 0, verified.stderr
