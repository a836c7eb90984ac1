"""The 08:15 ingestion: found on the data agent, fetched through its provider, quality-checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from agents.data import DEFAULT_UNIVERSE, Bar, Dataset, DemoProvider, ManualClock
from ops.scheduler import discover_data, drive, provider_ingest, scheduler_for
from runtime.agent import Agent, Stage, Tick
from runtime.clock import SimClock
from tests.ops.scheduler.harness import FakeProvider, Limits, alerts, et, make_rig, make_runtime, reset_bus, settings

DAY = date(2026, 11, 24)


class DataStandIn(Agent):
    """Shaped like agents.data.DataAgent for discovery: a ``provider`` and its ``symbols``."""

    name = "data"
    stage = Stage.DATA

    def __init__(self, provider: object, symbols: list[str]) -> None:
        super().__init__()
        self.provider = provider
        self.symbols = symbols

    async def on_tick(self, tick: Tick) -> None:
        return None


async def test_the_data_agents_provider_is_found_and_ingested_through(tmp_path: Path, bus_env: str) -> None:
    clock = SimClock(et(DAY, 8, 0))
    provider = DemoProvider(seed=3, clock=ManualClock(et(DAY, 8, 0)))
    symbols = [s.symbol for s in DEFAULT_UNIVERSE[:4]]
    rt = make_runtime(tmp_path / "home", clock, bus_env, [DataStandIn(provider, symbols)])
    await rt.start()
    try:
        found, ingest = discover_data(rt)
        assert found == [provider]
        assert ingest is not None
        sched = scheduler_for(rt, settings(), limits=Limits())
        [record] = await drive(sched, clock, et(DAY, 8, 16), only=lambda r: r.job == "data_ingestion")
        assert record.status == "ok", record.message
        assert record.data["symbols"] == 4
        assert record.data["bars"] > 0
        assert record.data["failures"] == []
    finally:
        await rt.stop()
        reset_bus(bus_env)


async def test_a_runtime_without_a_data_agent_has_nothing_to_discover(tmp_path: Path, bus_env: str) -> None:
    rt = make_runtime(tmp_path / "home", SimClock(et(DAY, 8, 0)), bus_env)
    await rt.start()
    try:
        assert discover_data(rt) == ([], None)
    finally:
        await rt.stop()
        reset_bus(bus_env)


class NoBars(FakeProvider):
    """A feed that answers with nothing: every symbol fails the quality checks."""

    capabilities = frozenset({Dataset.BARS})

    async def bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        return {s: [] for s in symbols}


async def test_quality_failures_fail_the_ingestion_and_raise_a_data_quality_alert(tmp_path: Path, bus_env: str) -> None:
    clock = SimClock(et(DAY, 8, 0))
    rig = await make_rig(tmp_path / "home", clock, bus_env)
    try:
        rig.scheduler.runner.ingest = provider_ingest(NoBars(), ["AAPL", "MSFT"])
        [record] = await drive(rig.scheduler, clock, et(DAY, 8, 16), only=lambda r: r.job == "data_ingestion")
        assert record.status == "failed"
        assert "2 quality failure(s)" in record.message
        [alert] = alerts(rig.rt.home, "data_quality")
        assert alert["severity"] == "warning"
    finally:
        await rig.stop()
        reset_bus(bus_env)
