"""The scheduler driving a daemon over the bus: the same jobs through the control verbs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from ops.scheduler import RemoteTarget, Scheduler, approve, drive
from runtime.bus import MemoryBus
from runtime.clock import SimClock
from runtime.control import ControlService
from runtime.runtime import Runtime
from runtime.state import RuntimeState
from tests.ops.scheduler.harness import FakeProvider, Limits, TradingAgent, et, make_runtime, reset_bus, settings

DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)


@dataclass
class Remote:
    rt: Runtime
    agent: TradingAgent
    scheduler: Scheduler
    clock: SimClock
    provider: FakeProvider


@pytest.fixture
async def remote(tmp_path: Path, bus_env: str) -> AsyncIterator[Remote]:
    clock = SimClock(et(DAY1, 7, 0))
    agent = TradingAgent()
    rt = make_runtime(tmp_path / "home", clock, bus_env, [agent])
    await rt.start(role="daemon")
    control = ControlService(rt)
    await control.start()
    limits = Limits()
    await approve(rt, limits(), operator="alice", reason="baseline")
    bus = MemoryBus(f"memory://{bus_env}", "test", client_id="scheduler-client")
    await bus.start()
    provider = FakeProvider(clock=clock.now)
    target = RemoteTarget(bus, "scheduler", home=rt.home, ledger_path=rt.home / "ledger.sqlite", clock=clock, timeout=5)
    scheduler = Scheduler(target, settings(), providers=lambda: [provider], limits=limits, sleep=_no_wait)
    yield Remote(rt, agent, scheduler, clock, provider)
    await bus.close()
    await control.stop()
    await rt.stop()
    reset_bus(bus_env)


async def _no_wait(seconds: float) -> None:
    return None


async def test_a_remote_day_trades_through_the_control_verbs(remote: Remote) -> None:
    records = {r.job: r for r in await drive(remote.scheduler, remote.clock, et(DAY1, 12, 30))}
    assert records["run_daily_trade"].status == "ok"
    assert records["run_daily_trade"].data["tick"]["status"] == "completed"
    assert len(remote.agent.ticks) == 1  # the tick ran in the daemon
    assert (remote.rt.home / "scheduler" / "runs" / "run_daily_trade@2026-11-24.json").exists()
    assert records["midday_check"].status == "ok"


async def test_a_remote_health_failure_pauses_the_daemon_and_the_next_day_resumes_it(remote: Remote) -> None:
    remote.provider.script = [False]
    first = {r.job: r for r in await drive(remote.scheduler, remote.clock, et(DAY1, 10))}
    assert first["health_check"].data["action"] == "degraded"
    assert remote.rt.state == RuntimeState.PAUSED  # no degrade verb on the wire: a pause carrying the SOP's reason
    assert first["run_daily_trade"].status == "skipped"
    remote.provider.script = [True]
    second = {r.job: r for r in await drive(remote.scheduler, remote.clock, et(DAY2, 10))}
    assert second["health_check"].data["action"] == "recovered"
    assert second["run_daily_trade"].status == "ok"
    assert [t.date() for t in remote.agent.ticks] == [DAY2]


async def test_a_remote_scheduler_does_not_rotate_the_daemons_log(remote: Remote) -> None:
    record = await remote.scheduler.run_now("audit_rotate")
    assert record.status == "skipped"
    assert "rotates its own audit log" in record.message
    archive = await remote.scheduler.run_now("audit_archive")  # archiving beside the live writer is safe
    assert archive.status == "ok"
    report = await remote.scheduler.run_now("daily_report")
    assert report.status == "skipped"
    assert "host the scheduler in the daemon" in report.message
