"""Scheduler runs and misses reach the Prometheus counters of ops.metrics (scheduler runs and misses)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prometheus_client import CollectorRegistry

from ops.metrics import OpsMetrics
from ops.scheduler import drive
from runtime.clock import SimClock
from tests.ops.scheduler.harness import et, make_rig, reset_bus

DAY = date(2026, 11, 24)


async def test_runs_and_misses_are_counted_by_job_and_outcome(tmp_path: Path, bus_env: str) -> None:
    clock = SimClock(et(DAY, 7, 0))
    rig = await make_rig(tmp_path / "home", clock, bus_env)
    registry = CollectorRegistry()
    rig.scheduler.stats.feed(OpsMetrics(registry, calendar=None))
    rig.limits.risk = rig.limits.risk.model_copy(update={"daily_loss_pct": 0.5})  # unapproved: 09:30 is refused
    try:
        await drive(rig.scheduler, clock, et(DAY, 13, 0), late={"reconciliation": 900})
    finally:
        await rig.stop()
        reset_bus(bus_env)

    def runs(job: str, outcome: str) -> float | None:
        return registry.get_sample_value("scheduler_job_runs_total", {"job": job, "outcome": outcome})

    assert runs("health_check", "ok") == 1
    assert runs("run_daily_trade", "refused") == 1  # blocked by the pre-flight gate
    assert runs("run_daily_trade", "ok") is None
    assert registry.get_sample_value("scheduler_job_misses_total", {"job": "reconciliation"}) == 1
    assert runs("reconciliation", "ok") is None
