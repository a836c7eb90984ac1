"""Acceptance on a fake clock: the runbook's days run through the real planner, runner and runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.scheduler import RunRecord, drive
from runtime import topics
from runtime.bus import MemoryBus
from runtime.clock import SimClock
from runtime.messages import make
from runtime.payloads import KillSwitch, StateChanged
from runtime.state import RuntimeState
from tests.ops.scheduler.harness import Rig, alerts, et, make_rig, reset_bus


def by_id(records: list[RunRecord]) -> dict[str, RunRecord]:
    return {r.run_id: r for r in records}


@pytest.fixture
async def rig(tmp_path: Path, bus_env: str, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    start = getattr(request, "param", date(2025, 1, 8))
    clock = SimClock(et(start, 7, 0))
    made = await make_rig(tmp_path / "home", clock, bus_env)
    yield made
    await made.stop()
    reset_bus(bus_env)


@pytest.mark.parametrize("rig", [date(2025, 1, 8)], indirect=True)
async def test_no_trade_on_the_national_day_of_mourning(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(date(2025, 1, 11), 0)))
    assert records["run_daily_trade@2025-01-08"].status == "ok"
    assert records["run_daily_trade@2025-01-10"].status == "ok"
    assert not [k for k in records if k.endswith("@2025-01-09") and not k.startswith("audit_")]
    assert [t.date() for t in rig.agent.ticks] == [date(2025, 1, 8), date(2025, 1, 10)]


@pytest.mark.parametrize("rig", [date(2026, 11, 25)], indirect=True)
async def test_thanksgiving_and_the_half_day_after(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(date(2026, 11, 28), 0)))
    assert "run_daily_trade@2026-11-26" not in records
    assert [t.date() for t in rig.agent.ticks] == [date(2026, 11, 25), date(2026, 11, 27)]
    eod, report = records["eod_closure@2026-11-27"], records["daily_report@2026-11-27"]
    assert eod.scheduled_for == et(date(2026, 11, 27), 13, 0).isoformat()
    assert report.scheduled_for == et(date(2026, 11, 27), 13, 30).isoformat()
    assert eod.started == et(date(2026, 11, 27), 13, 0).isoformat()  # it ran then, on the fake clock
    assert records["eod_closure@2026-11-25"].scheduled_for == et(date(2026, 11, 25), 16, 0).isoformat()
    assert (rig.rt.home / "eod" / "2026-11-27.json").exists()


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_a_kill_switch_on_one_day_still_blocks_the_next_days_trade(
    rig: Rig, tmp_path: Path, bus_env: str
) -> None:
    day1, day2 = date(2026, 11, 24), date(2026, 11, 25)
    first = by_id(await drive(rig.scheduler, rig.clock, et(day1, 11, 0)))
    assert first["run_daily_trade@2026-11-24"].status == "ok"
    sender = MemoryBus(f"memory://{bus_env}", "test")
    await sender.start()
    states = sender.subscribe(topics.STATE_RUNTIME)  # the runtime broadcasts HALTED once it is persisted
    await sender.publish(
        topics.RISK_KILL_SWITCH, make("kill_switch", KillSwitch(reason="daily loss -4%"), source="risk")
    )
    async with asyncio.timeout(30):  # handled by the runtime's own consumer task
        async for delivery in states:
            if delivery.envelope.parsed(StateChanged).state == "HALTED":
                break
    await sender.close()
    assert rig.rt.state == RuntimeState.HALTED
    assert (await rig.rt.books.state()).state == "HALTED"  # type: ignore[union-attr]
    await drive(rig.scheduler, rig.clock, et(day2, 7, 0))
    # a restart in between: the new process knows only what the ledger persisted
    await rig.stop()
    again = await make_rig(rig.rt.home, rig.clock, bus_env, approve_limits=False)
    try:
        second = by_id(await drive(again.scheduler, again.clock, et(day2 + timedelta(days=1), 0)))
        trade = second["run_daily_trade@2026-11-25"]
        assert trade.status == "skipped"
        assert "HALTED" in trade.message
        assert "daily loss -4%" in trade.message
        assert trade.state_seen["state"] == "HALTED"
        assert second["pretrade_review@2026-11-25"].status == "skipped"
        health = second["health_check@2026-11-25"]
        assert health.status == "ok"
        assert health.data["action"] == "none"
        assert second["eod_closure@2026-11-25"].status == "ok"  # oversight still runs, and records the state
        assert second["eod_closure@2026-11-25"].state_seen["state"] == "HALTED"
        assert again.agent.ticks == []
        assert (await again.rt.books.state()).state == "HALTED"  # type: ignore[union-attr]
    finally:
        await again.stop()


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_a_run_past_its_grace_is_missed_counted_and_not_run(rig: Rig) -> None:
    records = by_id(
        await drive(rig.scheduler, rig.clock, et(date(2026, 11, 26), 0), late={"run_daily_trade@2026-11-24": 301})
    )
    missed = records["run_daily_trade@2026-11-24"]
    assert missed.status == "missed"
    assert "301s late" in missed.message
    assert rig.scheduler.stats.misses["run_daily_trade"] == 1
    assert [t.date() for t in rig.agent.ticks] == [date(2026, 11, 25)]  # the next day trades normally
    assert alerts(rig.rt.home, "scheduler_job_missed")
    assert (await rig.rt.books.get_json("scheduler.runs", "run_daily_trade@2026-11-24"))["status"] == "missed"


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_a_run_late_within_its_grace_still_runs(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(date(2026, 11, 25), 0), late={"run_daily_trade": 299}))
    assert records["run_daily_trade@2026-11-24"].status == "ok"
    assert rig.scheduler.stats.misses == {}


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_a_host_asleep_for_a_day_does_not_catch_up_old_trades(rig: Rig) -> None:
    """Coalescing at the business level: on waking, yesterday's runs are misses; only today's window trades."""
    wake = et(date(2026, 11, 25), 9, 31)
    plan = rig.scheduler.plan(date(2026, 11, 24), 1)
    late = {r.id: (wake - r.at).total_seconds() for r in plan}
    late["run_daily_trade@2026-11-25"] = 60
    records = by_id(await drive(rig.scheduler, rig.clock, et(date(2026, 11, 25), 17), late=late))
    assert {r.status for k, r in records.items() if k.endswith("2026-11-24")} == {"missed"}
    assert records["run_daily_trade@2026-11-25"].status == "ok"
    assert len(rig.agent.ticks) == 1
    woke_late = {"health_check", "data_ingestion", "pretrade_review"}  # today's runs before 09:31 are missed too
    assert {k for k, r in records.items() if r.status == "missed" and k.endswith("2026-11-25")} == {
        f"{job}@2026-11-25" for job in woke_late
    }
    assert sum(rig.scheduler.stats.misses.values()) == len(plan) + len(woke_late)


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_a_session_trades_once_even_when_asked_twice(rig: Rig) -> None:
    await drive(rig.scheduler, rig.clock, et(date(2026, 11, 24), 9, 45))
    again = await rig.scheduler.runner.run(rig.scheduler.plan(date(2026, 11, 24), 1)[3])  # the 09:30 run, re-fired
    assert again.run_id == "run_daily_trade@2026-11-24"
    assert again.status == "ok"
    manual = await rig.scheduler.run_now("run_daily_trade")
    assert manual.status == "skipped"
    assert "already completed" in manual.message
    assert len(rig.agent.ticks) == 1


@pytest.mark.parametrize("rig", [date(2026, 3, 6)], indirect=True)
async def test_the_schedule_runs_through_a_dst_change(rig: Rig) -> None:
    records = by_id(await drive(rig.scheduler, rig.clock, et(date(2026, 3, 10), 0)))
    assert records["run_daily_trade@2026-03-06"].started == "2026-03-06T14:30:00+00:00"  # EST
    assert records["run_daily_trade@2026-03-09"].started == "2026-03-09T13:30:00+00:00"  # EDT
    assert records["health_check@2026-03-09"].started == "2026-03-09T12:00:00+00:00"  # 08:00 EDT
    assert [t.date() for t in rig.agent.ticks] == [date(2026, 3, 6), date(2026, 3, 9)]
    assert records["audit_rotate@2026-03-07"].status == "ok"


@pytest.mark.parametrize("rig", [date(2026, 11, 24)], indirect=True)
async def test_every_job_of_a_day_records_its_outcome_and_the_state_it_saw(rig: Rig) -> None:
    records = await drive(rig.scheduler, rig.clock, et(date(2026, 11, 25), 0))
    assert [r.job for r in records] == [
        "health_check",
        "data_ingestion",
        "pretrade_review",
        "run_daily_trade",
        "reconciliation",
        "midday_check",
        "eod_closure",
        "daily_report",
        "audit_archive",
    ]
    assert {r.job: r.status for r in records}["data_ingestion"] == "skipped"  # no ingestion hook in this rig
    assert all(r.state_seen["state"] == "RUNNING" for r in records)
    trade = next(r for r in records if r.job == "run_daily_trade")
    assert "09:30 execution window" in trade.data["runbook_stages_ms"]
    assert trade.data["preflight"]["ok"] is True
    audited = {line["data"]["run_id"] for line in _audit(rig, "scheduler.job")}
    assert {r.run_id for r in records} <= audited
    report = next(r for r in records if r.job == "daily_report")
    assert report.status == "ok", report.message
    assert report.data["markdown"].endswith("daily-2026-11-24.md")
    [dispatched] = alerts(rig.rt.home, "daily_report")
    assert dispatched["severity"] == "info"
    assert dispatched["message"].startswith("Daily report 2026-11-24")
    archive = next(r for r in records if r.job == "audit_archive")
    assert archive.status == "ok"
    assert archive.data["verified"] is True
    assert archive.data["archive"] in {str(p) for p in (rig.rt.home / "audit" / "archive").iterdir()}


def _audit(rig: Rig, event: str) -> list[dict[str, Any]]:
    from tests.ops.scheduler.harness import audit_events

    return audit_events(rig.rt.home, event)
