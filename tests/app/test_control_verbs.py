"""The read verbs and the backtest launcher, through a real runtime's control service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.control_verbs import ReadVerbs
from app.wiring import load_config
from runtime import topics
from runtime.bus import MemoryBroker
from runtime.control import ControlService
from runtime.payloads import BacktestProgress, ControlRequest
from runtime.runtime import Runtime
from tests.runtime.harness import OrderAgent, make_runtime

DATA = Path(__file__).resolve().parents[1] / "data" / "stocks.csv.gz"


@pytest.fixture
async def served(tmp_path: Path, bus_env: str) -> AsyncIterator[tuple[Runtime, ControlService]]:
    rt = make_runtime(tmp_path / "home", bus_url=f"memory://{bus_env}", agents=[OrderAgent()])
    await rt.start()
    control = ControlService(rt)
    verbs = ReadVerbs(rt, load_config(home=tmp_path / "home", bus=f"memory://{bus_env}-bt", env="test"))
    verbs.register(control)
    yield rt, control
    await verbs.stop()
    await rt.stop()
    MemoryBroker.reset(bus_env)


async def test_incidents_with_snapshot_and_signoffs(served: tuple[Runtime, ControlService]) -> None:
    rt, control = served
    await rt.run_once()
    incident = await rt.kill(source="operator", reason="drill", actor="alice")
    listed = await control.execute("alice", "incidents", ControlRequest())
    assert listed.ok
    assert [i["id"] for i in listed.data["incidents"]] == [incident.id]
    assert "snapshot" not in listed.data["incidents"][0]
    one = await control.execute("alice", "incidents", ControlRequest(args={"id": incident.id}))
    assert one.data["incidents"][0]["snapshot"]["incident"]["id"] == incident.id
    assert (await control.execute("alice", "incidents", ControlRequest(args={"id": "INC-NONE"}))).ok is False


async def test_orders_audit_nav_and_trace(served: tuple[Runtime, ControlService]) -> None:
    rt, control = served
    await rt.run_once()
    orders = await control.execute("bob", "orders", ControlRequest())
    assert len(orders.data["open_orders"]) == 2
    audit = await control.execute("bob", "audit", ControlRequest())
    assert audit.data["chain"]["ok"] is True
    assert (await control.execute("bob", "nav_history", ControlRequest())).data["points"] == []
    assert (await control.execute("bob", "trace", ControlRequest(args={"symbol": "aapl"}))).data["records"] == []
    bad = await control.execute("bob", "trace", ControlRequest(args={"limit": "many"}))
    assert bad.ok is False
    assert "limit" in bad.message


async def test_a_backtest_runs_beside_the_runtime_and_reports_progress(
    served: tuple[Runtime, ControlService], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, control = served
    monkeypatch.setenv("DATA_PROVIDER", "csv")
    monkeypatch.setenv("DATA_CSV_PATH", str(DATA))
    events = rt.bus.subscribe(topics.EVENT_BACKTEST)
    refused = await control.execute("alice", "backtest", ControlRequest(args={"symbols": ["AAPL"]}))
    assert refused.ok is False
    started = await control.execute(
        "alice",
        "backtest",
        ControlRequest(args={"symbols": ["AAPL"], "start": "2010-01-04", "end": "2010-03-31", "capital": 100000}),
    )
    assert started.ok, started.message
    run_id = started.data["run_id"]
    async with asyncio.timeout(120):
        async for delivery in events:
            progress = delivery.envelope.parsed(BacktestProgress)
            if progress.status != "running":
                break
    assert (progress.run_id, progress.status) == (run_id, "completed"), progress.message
    assert "final_equity" in progress.metrics
    runs = await control.execute("alice", "backtests", ControlRequest())
    assert run_id in [r["run_id"] for r in runs.data["runs"]]
    assert (rt.home / "backtests" / run_id / "result.json").is_file()
