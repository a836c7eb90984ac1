"""Building blocks for execution tests: small real markets, a feeder agent, a runtime on a temporary home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.data import Bar
from agents.execution import (
    ExecutionAgent,
    ExecutionSettings,
    FillModel,
    PaperBroker,
    PaperExchange,
    ReconciliationAgent,
    build_execution_agents,
)
from agents.market import MarketData
from agents.types import (
    COMPLIANCE_VERDICTS,
    MARKET,
    RISK_VERDICTS,
    TRADE_PACK,
    OrderIntent,
    TradePack,
    Verdict,
    Verdicts,
)
from runtime import topics
from runtime.agent import Agent, AgentRegistry, Stage, Tick
from runtime.bus import MemoryBroker, Subscription
from runtime.clock import SimClock
from runtime.messages import new_id
from runtime.payloads import Alert, StateChanged
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
DAYS = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 16)]
WAIT = 10.0  # an upper bound on waiting for a message that must come, never a wait for time to pass


def bar(symbol: str, day: date, o: float, h: float, low: float, c: float, v: float = 1_000_000.0) -> Bar:
    return Bar(symbol, day, o, h, low, c, v)


def ramp(symbol: str, start: float = 100.0, volume: float = 1_000_000.0, days: list[date] | None = None) -> list[Bar]:
    """Distinct, easy prices: day i opens at start + i, high +2, low -2, closes at +1."""
    return [bar(symbol, d, start + i, start + i + 2, start + i - 2, start + i + 1, volume)
            for i, d in enumerate(days or DAYS)]  # fmt: skip


def market(*symbols: str, volume: float = 1_000_000.0, sectors: dict[str, str] | None = None) -> MarketData:
    bars = {s: ramp(s, 100.0 * (i + 1), volume) for i, s in enumerate(symbols)}
    return MarketData(bars, sectors=sectors or {s: "Tech" if i % 2 == 0 else "Energy" for i, s in enumerate(symbols)})


def intent(
    iid: str, symbol: str, side: str, qty: float, ref: float, *, priority: int = 0, reduces: bool = False
) -> OrderIntent:
    return OrderIntent(
        id=iid,
        symbol=symbol,
        side=side,
        qty=qty,
        ref_price=ref,
        priority=priority,
        target_weight=0.05,
        current_weight=0.0,
        consensus=0.5,
        reduces_exposure=reduces,
    )


def verdicts(agent: str, intents: list[OrderIntent], *, approve: bool = True, qty: float | None = None) -> Verdicts:
    return Verdicts(
        agent=agent,
        items=[Verdict(intent_id=i.id, symbol=i.symbol, approved=approve, qty=i.qty if qty is None else qty)
               for i in intents],
    )  # fmt: skip


def settings(**overrides: Any) -> ExecutionSettings:
    values: dict[str, Any] = {"venues": ["PAPER-A", "PAPER-B"], **overrides}
    return ExecutionSettings(_env_file=None, **values)


def exchange(home: Path, model: FillModel | None = None, ttl_bars: int = 0) -> PaperExchange:
    return PaperExchange(home / "paper_broker.sqlite", model or FillModel.no_costs(), ttl_bars=ttl_bars)


class Feeder(Agent):
    """The data, council, risk and compliance stages of a test: tick n sees session ``days[n]`` and the intents
    planned for it, approved by both (unless ``verdict_sets`` says otherwise)."""

    name = "feeder"
    stage = Stage.DATA

    def __init__(self, data: MarketData, days: list[date] | None = None) -> None:
        super().__init__()
        self.data = data
        self.days = days or list(DAYS)
        self.plan: dict[int, list[OrderIntent]] = {}
        self.verdict_sets: dict[int, tuple[Verdicts | None, Verdicts | None]] = {}
        self.ticks = 0

    async def on_tick(self, tick: Tick) -> None:
        n = self.ticks
        self.ticks += 1
        view = self.data.view(self.days[n])
        tick.put(MARKET, view)
        intents = self.plan.get(n, [])
        if not intents:
            return
        tick.put(TRADE_PACK, TradePack(as_of=view.as_of, intents=intents))
        risk, compliance = self.verdict_sets.get(n, (verdicts("risk", intents), verdicts("compliance", intents)))
        if risk is not None:
            tick.put(RISK_VERDICTS, risk)
        if compliance is not None:
            tick.put(COMPLIANCE_VERDICTS, compliance)


def venues_of(home: Path, model: FillModel | None = None, ttl_bars: int = 0) -> tuple[PaperBroker, PaperBroker]:
    ex = exchange(home, model, ttl_bars)
    return ex.venue("PAPER-A"), ex.venue("PAPER-B")


@dataclass
class Desk:
    """A runtime with a feeder and the execution agents over two paper venues."""

    rt: Runtime
    feeder: Feeder
    a: PaperBroker
    b: PaperBroker
    agents: list[Agent]

    @property
    def execution(self) -> ExecutionAgent:
        agent = self.agents[0]
        assert isinstance(agent, ExecutionAgent)
        return agent

    @property
    def reconciliation(self) -> ReconciliationAgent:
        agent = self.agents[1]
        assert isinstance(agent, ReconciliationAgent)
        return agent


def runtime(home: Path, agents: list[Agent], bus_name: str, *, env: str = "test") -> Runtime:
    core = CoreSettings(home=home, bus=f"memory://{bus_name}", env=env, _env_file=None)
    rules = RuntimeSettings(operators=["alice"], heartbeat_interval=3600, _env_file=None)
    return Runtime(core, rules, AgentRegistry(agents), clock=SimClock(T0))


@asynccontextmanager
async def desk(
    home: Path,
    feeder: Feeder,
    *,
    exec_settings: ExecutionSettings | None = None,
    model: FillModel | None = None,
    ttl_bars: int = 0,
    bus_name: str | None = None,
    brokers: tuple[PaperBroker, PaperBroker] | None = None,
) -> AsyncIterator[Desk]:
    a, b = brokers or venues_of(home, model, ttl_bars)
    agents = build_execution_agents(exec_settings or settings(), home, capital=1_000_000.0, brokers=[a, b])
    name = bus_name or f"exec-{new_id()[:12]}"
    rt = runtime(home, [feeder, *agents], name)
    await rt.start()
    try:
        yield Desk(rt, feeder, a, b, agents)
    finally:
        await rt.stop()
        MemoryBroker.reset(name)


async def next_alert(sub: Subscription, action: str) -> Alert:
    """The next alert of ``action`` on a subscription to ``events/alert``."""
    while True:
        delivery = await sub.get(WAIT)
        alert = delivery.envelope.parsed(Alert)
        if alert.action == action:
            return alert


async def next_state(sub: Subscription, state: str) -> StateChanged:
    while True:
        delivery = await sub.get(WAIT)
        changed = delivery.envelope.parsed(StateChanged)
        if changed.state == state:
            return changed


def alerts(rt: Runtime) -> Subscription:
    return rt.bus.subscribe(topics.EVENT_ALERT)


def tick_time(n: int) -> datetime:
    return T0 + timedelta(days=n)
