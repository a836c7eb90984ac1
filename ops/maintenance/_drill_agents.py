"""The drill's embedded demo agents, used when the deployment's registry is empty.

A market-data stand-in that holds nothing, and an execution stand-in that leaves resting limit orders in
the ledger every tick (priced far from any market, so they stay working) and cancels every one of them when
told to reach a safe state, which is exactly what the drill has to see happen.
"""

from __future__ import annotations

from runtime.agent import Agent, AgentRegistry, SafeState, Stage, Tick
from storage.records import Order


class DrillMarketAgent(Agent):
    name = "drill-market"
    stage = Stage.DATA

    async def on_tick(self, tick: Tick) -> None:
        tick.put("drill.prices", {"DEMO": 100.0})


class DrillExecutionAgent(Agent):
    name = "drill-execution"
    stage = Stage.EXECUTION

    def __init__(self, per_tick: int = 2) -> None:
        super().__init__()
        self.per_tick = per_tick

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        for _ in range(self.per_tick):
            if not ctx.trading_allowed:  # a halt mid-tick stops order sending at once
                return
            number = await ctx.ledger.next_order_number()
            order = Order(
                client_order_id=f"DRILL-{number:06d}",
                symbol="DEMO",
                side="buy",
                qty=10,
                venue="DRILL",
                created_at=ctx.clock.now(),
                status="acknowledged",
                limit_price=1.0,
                tick_id=tick.id,
                strategy="drill",
            )
            await ctx.ledger.insert_order(order)

    async def safe_state(self, reason: str) -> SafeState:
        ctx = self.context
        cancelled = await ctx.ledger.cancel_open_orders(reason=reason, ts=ctx.clock.now())
        ids = [o.client_order_id for o in cancelled]
        return SafeState(True, f"cancelled {len(ids)} working order(s)", ids)


def demo_registry() -> AgentRegistry:
    return AgentRegistry([DrillMarketAgent(), DrillExecutionAgent()])
