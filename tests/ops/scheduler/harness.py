"""A runtime on a temporary home, on a fake clock, with the scheduler wired to it: the real thing, no waiting."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agents.data import DataProvider, ProviderHealth
from ops.scheduler import InProcessTarget, Scheduler, SchedulerSettings, approve
from runtime.agent import Agent, AgentRegistry, SafeState, Stage, Tick
from runtime.bus import MemoryBroker
from runtime.clock import SimClock
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from storage.records import Order

OPERATORS = ("alice", "bob")


class TradingAgent(Agent):
    """Counts the ticks that reach execution and leaves one working order per tick (cancelled on a halt)."""

    name = "test-execution"
    stage = Stage.EXECUTION

    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[datetime] = []

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        self.ticks.append(tick.ts)
        number = await ctx.ledger.next_order_number()
        order = Order(f"T-{number:06d}", "AAPL", "buy", 10, "PAPER", ctx.clock.now(), status="acknowledged")
        await ctx.ledger.insert_order(order)

    async def safe_state(self, reason: str) -> SafeState:
        cancelled = await self.context.ledger.cancel_open_orders(reason=reason, ts=self.context.clock.now())
        return SafeState(True, f"cancelled {len(cancelled)}", [o.client_order_id for o in cancelled])


class FakeProvider(DataProvider):
    """A provider whose health follows a script: one bool per call, the last repeated."""

    name = "fake-vendor"

    def __init__(self, script: Sequence[bool] = (True,), clock: Callable[[], datetime] | None = None) -> None:
        self.script = list(script)
        self.calls = 0
        self.clock = clock or (lambda: datetime(2026, 1, 1, tzinfo=UTC))

    async def health(self) -> ProviderHealth:
        ok = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return ProviderHealth(self.name, ok, 1.0, None if ok else "HTTP 503 from vendor", self.clock())


class RiskLimits(BaseModel):
    max_position_pct: float = 0.10
    daily_loss_pct: float = 0.03


class ComplianceLimits(BaseModel):
    restricted: list[str] = ["XYZ"]
    max_concentration: float = 0.25


@dataclass
class Limits:
    """The limits the process 'runs with'; tests change them to simulate an edited environment."""

    risk: RiskLimits = field(default_factory=RiskLimits)
    compliance: ComplianceLimits = field(default_factory=ComplianceLimits)

    def __call__(self) -> dict[str, Any]:
        return {"risk": self.risk, "compliance": self.compliance}


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings(**overrides: Any) -> SchedulerSettings:
    values: dict[str, Any] = {
        "timezone": "America/New_York",
        "misfire_grace_seconds": 300,
        "health_retries": 3,
        "health_backoff_seconds": 5.0,
    }
    values.update(overrides)
    return SchedulerSettings(**values)


def et(day: date, hh: int, mm: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def make_runtime(home: Path, clock: SimClock, bus_env: str, agents: Sequence[Agent] = (), **rt: Any) -> Runtime:
    core = CoreSettings(home=home, bus=f"memory://{bus_env}", env="test")
    values: dict[str, Any] = {"operators": list(OPERATORS), "heartbeat_interval": 3600, "stage_deadline": 5.0}
    values.update(rt)
    return Runtime(core, RuntimeSettings(**values), AgentRegistry(list(agents)), clock=clock)


@dataclass
class Rig:
    """A started runtime and a scheduler on it (APScheduler not started: the fake clock drives)."""

    rt: Runtime
    scheduler: Scheduler
    clock: SimClock
    agent: TradingAgent
    provider: FakeProvider
    limits: Limits
    sleeps: Sleeps

    async def approve_limits(self, operator: str = "alice") -> None:
        await approve(self.rt, self.limits(), operator=operator, reason="initial baseline")

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.rt.stop()


async def make_rig(
    home: Path,
    clock: SimClock,
    bus_env: str,
    *,
    provider: FakeProvider | None = None,
    limits: Limits | None = None,
    approve_limits: bool = True,
    **overrides: Any,
) -> Rig:
    agent = TradingAgent()
    rt = make_runtime(home, clock, bus_env, [agent])
    await rt.start()
    prov = provider or FakeProvider(clock=clock.now)
    lim = limits or Limits()
    sleeps = Sleeps()
    sched = Scheduler(
        InProcessTarget(rt), settings(**overrides), providers=lambda: [prov], limits=lim, sleep=sleeps, runtime=rt
    )
    rig = Rig(rt, sched, clock, agent, prov, lim, sleeps)
    if approve_limits:
        await rig.approve_limits()
    return rig


def audit_events(home: Path, event: str | None = None) -> list[dict[str, Any]]:
    path = home / "audit" / "runtime_events.jsonl"
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return [r for r in lines if event is None or r["event"] == event]


def alerts(home: Path, action: str | None = None) -> list[dict[str, Any]]:
    return [r["data"] for r in audit_events(home, "alert.raised") if action is None or r["data"]["action"] == action]


def reset_bus(bus_env: str) -> None:
    MemoryBroker.reset(bus_env)
