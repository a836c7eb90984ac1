"""Building blocks for runtime tests: a runtime on a temporary home and small agents with real effects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from runtime.agent import Agent, AgentRegistry, SafeState, Stage, Tick
from runtime.bus import Bus
from runtime.clock import SimClock
from runtime.runtime import Runtime
from runtime.settings import CoreSettings, RuntimeSettings
from storage.records import Order

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


class OrderAgent(Agent):
    """Places ``per_tick`` working orders in the ledger each tick; on a halt cancels every one of them."""

    name = "test-orders"
    stage = Stage.EXECUTION

    def __init__(self, per_tick: int = 2) -> None:
        super().__init__()
        self.per_tick = per_tick
        self.ticks = 0

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        self.ticks += 1
        for _ in range(self.per_tick):
            if not ctx.trading_allowed:
                return
            number = await ctx.ledger.next_order_number()
            order = Order(
                f"T-{number:06d}", "AAPL", "buy", 10, "PAPER-A", ctx.clock.now(), status="acknowledged", tick_id=tick.id
            )
            await ctx.ledger.insert_order(order)

    async def safe_state(self, reason: str) -> SafeState:
        ledger = self.context.ledger
        cancelled = []
        for order in await ledger.open_orders():
            await ledger.update_order(
                order.client_order_id, ts=self.context.clock.now(), status="cancelled", reason=reason
            )
            cancelled.append(order.client_order_id)
        return SafeState(True, f"cancelled {len(cancelled)} order(s)", cancelled)


class RecordingAgent(Agent):
    """Remembers which ticks reached its stage."""

    def __init__(
        self,
        name: str,
        stage: Stage,
        *,
        delay: float = 0.0,
        fail: bool = False,
        hook: Callable[[Tick], object] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.stage = stage
        self.delay = delay
        self.fail = fail
        self.hook = hook
        self.seen: list[str] = []

    async def on_tick(self, tick: Tick) -> None:
        self.seen.append(tick.id)
        if self.hook is not None:
            result = self.hook(tick)
            if asyncio.iscoroutine(result):
                await result
        if self.delay:
            await asyncio.sleep(self.delay)  # a stuck agent: only the stage deadline ends it
        if self.fail:
            raise RuntimeError("boom")


def make_runtime(
    home: Path,
    *,
    bus_url: str = "memory://",
    env: str = "test",
    agents: list[Agent] | None = None,
    operators: tuple[str, ...] = ("alice", "bob"),
    approvers: int = 1,
    stage_deadline: float = 5.0,
    bus: Bus | None = None,
    clock: SimClock | None = None,
) -> Runtime:
    core = CoreSettings(home=home, bus=bus_url, env=env)
    settings = RuntimeSettings(
        operators=list(operators),
        resume_approvers=approvers,
        stage_deadline=stage_deadline,
        heartbeat_interval=3600,
    )
    return Runtime(core, settings, AgentRegistry(agents or []), clock=clock or SimClock(T0), bus=bus)
