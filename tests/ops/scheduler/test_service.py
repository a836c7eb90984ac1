"""The APScheduler host: what it registers, what it counts as missed at start, and real firing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ops.scheduler import InProcessTarget, RunRecord, Scheduler, approve
from ops.scheduler.plan import JobKind, PlannedRun
from runtime.clock import SimClock, WallClock
from tests.ops.scheduler.harness import Limits, Rig, et, make_rig, make_runtime, reset_bus, settings

DAY = date(2026, 11, 24)


@pytest.fixture
async def rig(tmp_path: Path, bus_env: str, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    start = getattr(request, "param", et(DAY, 7, 0))
    made = await make_rig(tmp_path / "home", SimClock(start), bus_env)
    yield made
    await made.stop()
    reset_bus(bus_env)


async def test_start_registers_date_triggers_with_grace_and_coalescing(rig: Rig) -> None:
    await rig.scheduler.start(paused=True)
    jobs = {job.id: job for job in rig.scheduler._aps.get_jobs()}  # type: ignore[union-attr]
    assert jobs["run_daily_trade@2026-11-24"].next_run_time == et(DAY, 9, 30)
    assert "run_daily_trade@2026-11-26" not in jobs  # Thanksgiving
    assert jobs["eod_closure@2026-11-27"].next_run_time == et(date(2026, 11, 27), 13, 0)
    assert jobs["daily_report@2026-11-27"].next_run_time == et(date(2026, 11, 27), 13, 30)
    assert jobs["audit_rotate@2026-11-28"].next_run_time == et(date(2026, 11, 28), 10, 0)
    trade = jobs["run_daily_trade@2026-11-24"]
    assert (trade.coalesce, trade.misfire_grace_time, trade.max_instances) == (True, 300, 1)
    planner = jobs["planner"]
    assert planner.coalesce is True
    assert planner.misfire_grace_time is None
    assert planner.next_run_time.astimezone(UTC) == et(DAY + timedelta(days=1), 0, 1)
    assert rig.scheduler.stats.misses == {}


@pytest.mark.parametrize("rig", [et(DAY, 11, 0)], indirect=True)
async def test_a_start_after_the_morning_counts_its_runs_as_missed(rig: Rig) -> None:
    earlier = rig.scheduler.plan(DAY, 1)[3]
    assert earlier.job == "run_daily_trade"
    done = RunRecord(earlier.id, earlier.job, "2026-11-24", earlier.at.isoformat(), "", "", "ok", "ran", {})
    await rig.scheduler.target.runs.put(done)  # it ran before a restart: not a miss
    await rig.scheduler.start(paused=True)
    assert dict(rig.scheduler.stats.misses) == {
        "health_check": 1,
        "data_ingestion": 1,
        "pretrade_review": 1,
        "reconciliation": 1,
    }
    registered = {job_id for job_id, _ in rig.scheduler.jobs_due()}
    assert "midday_check@2026-11-24" in registered
    assert "run_daily_trade@2026-11-24" not in registered
    again = await rig.scheduler.replan()  # the daily planner does not re-count nor re-add
    assert again == []
    assert sum(rig.scheduler.stats.misses.values()) == 4


async def test_self_check_reports_the_scheduler(rig: Rig) -> None:
    await rig.scheduler.start(paused=True)
    check = await rig.scheduler.self_check()
    assert check.ok
    assert check.data["registered"] > 5
    await rig.scheduler.stop()
    assert not rig.scheduler.running


async def test_apscheduler_fires_on_time_and_reports_what_it_missed(tmp_path: Path, bus_env: str) -> None:
    rt = make_runtime(tmp_path / "home", WallClock(), bus_env)  # type: ignore[arg-type]
    await rt.start()
    limits = Limits()
    scheduler = Scheduler(InProcessTarget(rt), settings(misfire_grace_seconds=60), limits=limits, runtime=rt)
    try:
        await approve(rt, limits(), operator="alice", reason="baseline")
        seen: dict[str, RunRecord] = {}
        both = asyncio.Event()

        def listen(record: RunRecord) -> None:  # the hook metrics use: every run and miss comes through it
            seen[record.job] = record
            if {"midday_check", "reconciliation"} <= set(seen):
                both.set()

        scheduler.stats.listeners.append(listen)
        await scheduler.start()
        now = datetime.now(UTC)
        on_time = PlannedRun("midday_check", JobKind.OVERSIGHT, now.date(), now + timedelta(milliseconds=20), None)
        stale = PlannedRun("reconciliation", JobKind.OVERSIGHT, now.date(), now - timedelta(hours=1), None)
        scheduler.register(on_time)
        scheduler.register(stale)
        async with asyncio.timeout(5):
            await both.wait()
        assert seen["reconciliation"].status == "missed"
        assert scheduler.stats.last["midday_check"].status == "ok"
        assert scheduler.stats.last["midday_check"].run_id == on_time.id
        assert scheduler.stats.misses["reconciliation"] == 1  # EVENT_JOB_MISSED, from APScheduler itself
        miss = await rt.books.get_json("scheduler.runs", stale.id)
        assert miss["status"] == "missed"
    finally:
        await scheduler.stop()
        await rt.stop()
        reset_bus(bus_env)


async def test_stop_lets_the_running_job_finish(rig: Rig) -> None:
    await rig.scheduler.start(paused=True)
    run = rig.scheduler.manual_run("midday_check")
    started = asyncio.Event()
    release = asyncio.Event()
    body = rig.scheduler.runner.bodies["midday_check"]

    async def slow(ctx: object) -> object:
        started.set()
        await release.wait()
        return await body(ctx)  # type: ignore[arg-type]

    rig.scheduler.runner.bodies["midday_check"] = slow  # type: ignore[assignment]
    task = asyncio.create_task(rig.scheduler.runner.run(run, manual=True))
    await started.wait()
    stopping = asyncio.create_task(rig.scheduler.stop())
    await asyncio.sleep(0.01)
    assert not stopping.done()  # waiting for the job
    release.set()
    record = await task
    await stopping
    assert record.job == "midday_check"
    assert record.status == "ok"
