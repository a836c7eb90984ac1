"""A real runtime on a temporary home for agent-level tests, with a feeder agent standing in for data + council.

The feeder only *supplies inputs* (the market view and a trade pack) the way the data and council stages will;
everything else (ledger, bus, state machine, kill switch, audit log) is the real thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from agents.market import MarketData, MarketView
from agents.types import MARKET, TRADE_PACK, OrderIntent, Side, TradePack
from runtime import topics
from runtime.agent import Agent, AgentRegistry, Stage, Tick
from runtime.bus import Subscription
from runtime.clock import SimClock
from runtime.messages import Envelope
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from runtime.state import RuntimeState
from storage.ledger import Ledger
from storage.records import Fill, NavPoint, Order


class Feeder(Agent):
    """Stage DATA: puts ``view`` under MARKET and a pack of ``intents`` under TRADE_PACK."""

    name = "test-feed"
    stage = Stage.DATA

    def __init__(self) -> None:
        super().__init__()
        self.view: MarketView | None = None
        self.intents: list[OrderIntent] = []

    async def on_tick(self, tick: Tick) -> None:
        if self.view is not None:
            tick.put(MARKET, self.view)
            tick.put(TRADE_PACK, TradePack(as_of=self.view.as_of, intents=list(self.intents)))


class Capture(Agent):
    """Stage EXECUTION: keeps every tick's outputs (what execution would read)."""

    name = "test-capture"
    stage = Stage.EXECUTION

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[dict[str, Any]] = []

    async def on_tick(self, tick: Tick) -> None:
        self.outputs.append(dict(tick.outputs))


def at_close(day: date) -> datetime:
    return datetime.combine(day, time(21, 0), tzinfo=UTC)


def make_runtime(home: Path, bus_env: str, agents: Sequence[Agent], clock: SimClock) -> Runtime:
    core = CoreSettings(home=home, bus=f"memory://{bus_env}", env="test")
    settings = RuntimeSettings(operators=["alice"], heartbeat_interval=3600)
    return Runtime(core, settings, AgentRegistry(list(agents)), clock=clock)


@dataclass
class Harness:
    rt: Runtime
    feeder: Feeder
    capture: Capture
    clock: SimClock
    alerts: Subscription
    states: Subscription
    seen_alerts: list[Envelope] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger:
        return self.rt.books

    async def tick(self, view: MarketView, intents: Sequence[OrderIntent] = ()) -> None:
        self.clock.set(max(self.clock.now(), at_close(view.as_of)))
        self.feeder.view = view
        self.feeder.intents = list(intents)
        await self.rt.run_once()

    async def drain_alerts(self) -> list[Envelope]:
        """Every alert published so far (alerts are published inside the tick, so nothing is in flight)."""
        while self.alerts.pending():
            self.seen_alerts.append((await self.alerts.get(timeout=1)).envelope)
        return self.seen_alerts

    async def alerts_named(self, action: str) -> list[dict[str, Any]]:
        return [e.payload for e in await self.drain_alerts() if e.payload["action"] == action]

    async def wait_alert(self, action: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for an alert raised outside the tick (the kill switch's, after its forensic snapshot)."""
        async with asyncio.timeout(timeout):
            while True:
                for found in await self.alerts_named(action):
                    return found
                self.seen_alerts.append((await self.alerts.get()).envelope)

    async def wait_state(self, state: RuntimeState, timeout: float = 5.0) -> None:
        """Wait for ``state`` on the retained state topic (the kill switch is handled by its own task)."""
        async with asyncio.timeout(timeout):
            while self.rt.state != state:
                await self.states.get()

    async def persisted_state(self) -> str:
        record = await self.ledger.state()
        assert record is not None
        return record.state


async def hold(ledger: Ledger, symbol: str, qty: float, price: float, when: datetime, *, number: int = 0) -> None:
    """Put a position on the books through a real order and fill (``qty`` < 0 for a short)."""
    side: Side = "buy" if qty > 0 else "sell"
    coid = f"SETUP-{symbol}-{number}-{when:%Y%m%d%H%M%S}"
    await ledger.insert_order(Order(coid, symbol, side, abs(qty), "PAPER", when, status="acknowledged"))
    await ledger.apply_fill(Fill("PAPER", f"T-{coid}", coid, when, symbol, side, abs(qty), price))


async def close_of(ledger: Ledger, day: date, nav: float) -> None:
    """Record ``nav`` as the closing NAV of ``day``."""
    await ledger.record_nav(NavPoint(at_close(day), day.isoformat(), nav, nav, 0.0, 0.0))


@asynccontextmanager
async def running(
    home: Path, bus_env: str, agents: Sequence[Agent], t0: datetime, *, capital: float | None = 1_000_000.0
) -> AsyncIterator[Harness]:
    """A started runtime hosting feeder, ``agents`` and capture; the account funded with ``capital``."""
    feeder, capture = Feeder(), Capture()
    clock = SimClock(t0)
    rt = make_runtime(home, bus_env, [feeder, *agents, capture], clock)
    await rt.start()
    try:
        if capital is not None:
            await rt.books.fund(capital, ts=t0)
        alerts = rt.bus.subscribe(topics.EVENT_ALERT)
        states = rt.bus.subscribe(topics.STATE_RUNTIME)
        yield Harness(rt, feeder, capture, clock, alerts, states)
    finally:
        await rt.stop()


def view_on(data: MarketData, day: date) -> MarketView:
    return data.view(day)
