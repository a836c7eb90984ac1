"""The monthly kill-switch drill: time to halt, every agent's safe state, a report, never the live home."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from ops.maintenance import MaintenanceSettings, run_drill
from runtime.agent import Agent, AgentRegistry, SafeState, Stage, Tick
from runtime.settings import CoreSettings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def exists(path: str) -> bool:
    return Path(path).exists()


def settings(**overrides: object) -> MaintenanceSettings:
    return MaintenanceSettings(**{"drill_ticks": 3, **overrides})  # type: ignore[arg-type]


async def test_the_drill_measures_the_halt_and_every_agents_safe_state(tmp_path: Path) -> None:
    live = tmp_path / "live"
    report = await run_drill(live, settings(), now=NOW)
    assert report.ok, report.checks
    assert report.agents == ["drill-market", "drill-execution"]
    assert report.open_orders_before == 6  # 2 working orders per replayed session
    assert report.open_orders_after == 0
    assert report.time_to_halt_ms is not None
    assert report.time_to_cancel_ms is not None
    assert report.time_to_incident_ms is not None
    assert 0 < report.time_to_halt_ms <= report.time_to_cancel_ms <= report.time_to_incident_ms
    assert report.safe_states["drill-execution"]["safe"] is True
    assert len(report.safe_states["drill-execution"]["cancelled"]) == 6
    assert report.safe_states["drill-market"]["safe"] is True
    assert report.heartbeats == {"drill-market": "safe", "drill-execution": "safe"}
    assert report.incident_id is not None
    assert report.incident_id.startswith("INC-")
    folder = live / "drills" / "20261124T120000"
    saved = json.loads((folder / "drill.json").read_text("utf-8"))
    assert saved["ok"] is True
    assert saved["time_to_halt_ms"] == report.time_to_halt_ms
    assert "| drill-execution | yes | cancelled 6 working order(s) | safe |" in (folder / "drill.md").read_text("utf-8")
    assert sorted(p.name for p in live.iterdir()) == ["drills"]  # nothing else touched the live home
    assert not exists(report.drill_home)  # the temporary home is gone


class StuckAgent(Agent):
    """An agent that never reaches a safe state: the drill must fail and say which."""

    name = "stuck-execution"
    stage = Stage.EXECUTION

    async def on_tick(self, tick: Tick) -> None:
        return None

    async def safe_state(self, reason: str) -> SafeState:
        return SafeState(False, "venue session lost: orders unknown")


async def test_an_agent_that_is_not_safe_fails_the_drill(tmp_path: Path) -> None:
    homes: list[Path] = []

    def factory(core: CoreSettings) -> AgentRegistry:
        homes.append(core.home)
        return AgentRegistry([StuckAgent()])

    live = tmp_path / "live"
    report = await run_drill(live, settings(), registry_factory=factory, now=NOW, keep=True)
    assert not report.ok
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert failed == {"agents_safe": "not safe: stuck-execution"}
    assert report.agents_source.startswith("deployment registry")
    assert "no working order at the kill switch: the cancel path was not exercised" in report.warnings
    assert homes == [Path(report.drill_home)]  # the deployment's agents were built on the temporary home
    assert homes[0] != live
    assert exists(report.drill_home)  # kept on request, for forensics
    text = (live / "drills" / "20261124T120000" / "drill.md").read_text("utf-8")
    assert text.startswith("# Kill-switch drill: FAILED")
    shutil.rmtree(report.drill_home)


async def test_a_halt_slower_than_its_slo_fails(tmp_path: Path) -> None:
    report = await run_drill(tmp_path / "live", settings(drill_halt_slo_seconds=1e-9), now=NOW)
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["halted"]
