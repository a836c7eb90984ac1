"""Runbook SOP 1: retries with back-off, then DEGRADED, an incident, an alert and no trading that day."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from ops.scheduler import RunRecord, drive
from runtime.clock import SimClock
from runtime.signoff import ResumeRequest
from runtime.state import RuntimeState
from tests.ops.scheduler.harness import FakeProvider, Rig, alerts, et, make_rig, reset_bus

DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture
async def rig(tmp_path: Path, bus_env: str, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    script = getattr(request, "param", (True,))
    clock = SimClock(et(DAY1, 7, 0))
    made = await make_rig(tmp_path / "home", clock, bus_env, provider=FakeProvider(script, clock=clock.now))
    yield made
    await made.stop()
    reset_bus(bus_env)


def state(rig: Rig) -> RuntimeState:
    return rig.rt.state


def by_id(records: list[RunRecord]) -> dict[str, RunRecord]:
    return {r.run_id: r for r in records}


def provider_attempts(record: RunRecord) -> list[dict[str, object]]:
    checks = {c["name"]: c for c in record.data["checks"]}
    attempts: list[dict[str, object]] = checks["data_providers"]["attempts"]
    return attempts


@pytest.mark.parametrize("rig", [(False,)], indirect=True)
async def test_three_retries_then_degraded_with_an_incident_and_no_trading(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY1, 17)))
    health = records["health_check@2026-11-24"]
    assert health.status == "failed"
    assert len(provider_attempts(health)) == 4  # the first try and 3 retries
    assert rig.sleeps.waits == [5.0, 10.0, 20.0]  # injected back-off, doubling
    assert health.data["action"] == "degraded"
    assert health.data["failed"] == ["data_providers"]
    persisted = await rig.rt.books.state()
    assert persisted is not None
    assert persisted.state == "DEGRADED"
    assert persisted.actor == "scheduler"
    incident_id = health.data["incident_id"]
    folder = rig.rt.home / "incidents" / incident_id
    summary = json.loads((folder / "incident.json").read_text("utf-8"))
    assert summary["incident"]["source"] == "ops.health_sop"
    assert "HTTP 503" in summary["incident"]["reason"]
    forensics = json.loads((folder / "forensics.json").read_text("utf-8"))
    assert any("provider status pages" in step for step in forensics["root_cause_steps"])
    [alert] = alerts(rig.rt.home, "health_check_failed")
    assert alert["severity"] == "error"
    assert alert["details"]["incident_id"] == incident_id
    trade = records["run_daily_trade@2026-11-24"]
    assert trade.status == "skipped"
    assert "DEGRADED" in trade.message
    assert records["data_ingestion@2026-11-24"].status == "skipped"
    assert rig.agent.ticks == []


@pytest.mark.parametrize("rig", [(False, False, True)], indirect=True)
async def test_a_check_that_recovers_within_its_retries_does_not_degrade(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY1, 10)))
    health = records["health_check@2026-11-24"]
    assert health.status == "ok"
    assert health.data["action"] == "none"
    assert [a["ok"] for a in provider_attempts(health)] == [False, False, True]
    assert rig.sleeps.waits == [5.0, 10.0]
    assert rig.rt.state == RuntimeState.RUNNING
    assert not (rig.rt.home / "incidents").exists()
    assert records["run_daily_trade@2026-11-24"].status == "ok"


async def test_a_passing_check_runs_once_and_changes_nothing(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY1, 9)))
    health = records["health_check@2026-11-24"]
    assert health.status == "ok"
    assert all(len(c["attempts"]) == 1 for c in health.data["checks"])
    assert {c["name"] for c in health.data["checks"]} == {"data_providers", "bus", "agents", "ledger", "scheduler"}
    assert rig.sleeps.waits == []
    assert [t.to_state for t in await rig.rt.books.transitions()] == ["RUNNING"]
    assert alerts(rig.rt.home, "health_check_failed") == []


@pytest.mark.parametrize("rig", [(False, False, False, False, True)], indirect=True)
async def test_the_next_sessions_passing_check_recovers_but_not_the_same_day(rig: Rig) -> None:
    await drive(rig.scheduler, rig.clock, et(DAY1, 11))
    assert rig.rt.state == RuntimeState.DEGRADED
    same_day = await rig.scheduler.run_now("health_check")  # passes now, but the day stays without trading
    assert same_day.status == "ok"
    assert same_day.data["action"] == "none"
    assert rig.rt.state == RuntimeState.DEGRADED
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY2, 11)))
    health = records["health_check@2026-11-25"]
    assert health.data["action"] == "recovered"
    assert records["run_daily_trade@2026-11-25"].status == "ok"
    assert [t.date() for t in rig.agent.ticks] == [DAY2]
    assert alerts(rig.rt.home, "health_check_recovered")


@pytest.mark.parametrize("rig", [(False,)], indirect=True)
async def test_a_halted_runtime_is_not_degraded_nor_resumed_by_the_sop(rig: Rig) -> None:
    await rig.rt.kill(source="operator", reason="drill", actor="alice")
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY1, 10)))
    health = records["health_check@2026-11-24"]
    assert health.status == "failed"
    assert health.data["action"] == "held"
    assert rig.rt.state == RuntimeState.HALTED
    assert (rig.rt.home / "incidents" / health.data["incident_id"] / "incident.json").exists()
    rig.provider.script = [True]
    again = by_id(await drive(rig.scheduler, rig.clock, et(DAY2, 10)))
    assert again["health_check@2026-11-25"].data["action"] == "none"
    assert rig.rt.state == RuntimeState.HALTED


@pytest.mark.parametrize("rig", [(False,)], indirect=True)
async def test_an_operator_pause_is_kept_through_a_failure_and_the_recovery(rig: Rig) -> None:
    await rig.rt.pause("alice", "investigating fills")
    await drive(rig.scheduler, rig.clock, et(DAY1, 10))
    assert rig.rt.state == RuntimeState.PAUSED
    rig.provider.script = [True]
    await drive(rig.scheduler, rig.clock, et(DAY2, 10))
    assert rig.rt.state == RuntimeState.PAUSED  # never resumed by the scheduler: it did not pause it
    assert rig.agent.ticks == []


@pytest.mark.parametrize("rig", [(False,)], indirect=True)
async def test_a_degraded_state_set_by_someone_else_is_left_to_them(rig: Rig) -> None:
    await rig.rt.set_state(RuntimeState.DEGRADED, reason="risk model stale", actor="risk")
    rig.provider.script = [True]
    records = by_id(await drive(rig.scheduler, rig.clock, et(DAY2, 10)))
    assert records["health_check@2026-11-25"].data["action"] == "none"
    assert rig.rt.state == RuntimeState.DEGRADED
    await rig.rt.resume(ResumeRequest("alice", "risk model refreshed"))
    assert state(rig) == RuntimeState.RUNNING
