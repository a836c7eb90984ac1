"""The Data agent on a real runtime: the view it hands on, the snapshot it publishes, no look-ahead."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agents.data import CsvProvider, DemoProvider
from agents.data.agent import DataAgent
from agents.market import LookAheadError, MarketView
from agents.types import MARKET, MARKET_SNAPSHOT, MarketSnapshot
from runtime import topics
from runtime.agent import Stage, Tick
from runtime.bus import MemoryBroker
from runtime.clock import SimClock
from runtime.replay import replay, session_time
from tests.runtime.harness import RecordingAgent, make_runtime

STOCKS = Path(__file__).resolve().parents[2] / "data" / "stocks.csv.gz"


async def test_replay_over_real_bars_hands_each_stage_the_view_of_that_session(tmp_path: Path, bus_env: str) -> None:
    seen: list[tuple[date, float | None]] = []

    def look(tick: Tick) -> None:
        view = tick.get(MARKET, MarketView)
        assert view is not None
        seen.append((view.as_of, view.last_price("AAPL")))
        assert view.closes("AAPL").size > 0
        with pytest.raises(LookAheadError):
            view._check(date(2013, 1, 1))

    provider = CsvProvider(STOCKS)
    agent = DataAgent(provider, ["AAPL", "IBM"], preload=(date(2010, 1, 4), date(2010, 1, 15)), lookback_days=60)
    clock = SimClock(session_time(date(2009, 12, 31)))
    rt = make_runtime(
        tmp_path / "home",
        bus_url=f"memory://{bus_env}",
        clock=clock,
        agents=[agent, RecordingAgent("probe", Stage.RISK, hook=look)],
    )
    await rt.start()
    try:
        snapshots = rt.bus.subscribe(topics.MARKET_SNAPSHOT)
        sessions = agent.sessions(date(2010, 1, 4), date(2010, 1, 15))
        assert len(sessions) == 10
        assert await replay(rt, clock, sessions) == 10
        first = (await snapshots.get(timeout=1)).envelope.parsed(MarketSnapshot)
    finally:
        await rt.stop()
        MemoryBroker.reset(bus_env)
    assert [d for d, _ in seen] == sessions
    assert first.as_of == date(2010, 1, 4)
    assert set(first.prices) == {"AAPL", "IBM"}
    assert all(price is not None and price > 0 for _, price in seen)


async def test_live_ticks_load_the_window_on_demand_with_side_datasets(tmp_path: Path, bus_env: str) -> None:
    provider = DemoProvider(seed=7)
    symbols = [s.symbol for s in provider.universe]
    agent = DataAgent(provider, symbols, lookback_days=120)
    clock = SimClock(session_time(date(2024, 3, 5)))
    captured: dict[str, object] = {}
    probe = RecordingAgent("probe", Stage.DIRECTOR, hook=lambda t: captured.update(t.outputs))
    rt = make_runtime(tmp_path / "home", bus_url=f"memory://{bus_env}", clock=clock, agents=[agent, probe])
    await rt.start()
    try:
        outcome = await rt.run_once()
    finally:
        await rt.stop()
        MemoryBroker.reset(bus_env)
    assert outcome.status == "completed", outcome.reason
    view = captured[MARKET]
    assert isinstance(view, MarketView)
    assert view.as_of == date(2024, 3, 5)
    assert set(view.symbols) == set(symbols)
    some = symbols[0]
    assert view.fundamentals(some) is not None
    assert view.macro("rates")
    assert view.headlines(days=5)
    assert view.sector(some) != "unknown"
    snapshot = captured[MARKET_SNAPSHOT]
    assert isinstance(snapshot, MarketSnapshot)
    assert snapshot.provider == provider.name
    assert agent.health().ok


async def test_replays_check_each_session_without_looking_ahead(tmp_path: Path, bus_env: str) -> None:
    """AAPL's real -52% day (2000-09-29) quarantines AAPL for that session only; before it nothing is flagged
    (checking the whole preloaded range up front would have judged September by October)."""
    from agents.data._failover import FailoverProvider
    from agents.data.agent import data_clock

    snapshots: dict[date, MarketSnapshot] = {}

    def keep(tick: Tick) -> None:
        snapshot = tick.get(MARKET_SNAPSHOT, MarketSnapshot)
        assert snapshot is not None
        snapshots[snapshot.as_of] = snapshot

    clock = SimClock(session_time(date(2000, 9, 1)))
    provider = FailoverProvider(CsvProvider(STOCKS, adjust=True), clock=data_clock(clock))
    agent = DataAgent(provider, ["AAPL", "IBM"], preload=(date(2000, 9, 25), date(2000, 10, 6)), lookback_days=30)
    rt = make_runtime(
        tmp_path / "home",
        bus_url=f"memory://{bus_env}",
        clock=clock,
        agents=[agent, RecordingAgent("probe", Stage.RISK, hook=keep)],
    )
    await rt.start()
    try:
        await replay(rt, clock, agent.sessions(date(2000, 9, 25), date(2000, 10, 6)))
    finally:
        await rt.stop()
        MemoryBroker.reset(bus_env)
    flagged = {d: s.impacted_signals for d, s in snapshots.items() if s.impacted_signals}
    assert flagged == {date(2000, 9, 29): ["technical:AAPL"]}
    assert all("AAPL" in s.prices for s in snapshots.values())
