"""Settlement: every venue fill reaches the ledger exactly once and is reported on ``execution.fill``.

Each venue hands out fills after a cursor. The ledger applies a fill idempotently on ``(venue, trade_id)``,
and the cursor is saved (ledger kv) only after the fills before it were applied and published. A crash in
between re-reads a few fills: the ledger ignores them as duplicates, and they are published again, so
``execution.fill`` is at-least-once (consumers deduplicate on ``(venue, trade_id)``, as for any QoS 1 message).
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.execution._broker import BrokerFill
from agents.execution._venues import Venues
from agents.types import FillReport
from runtime import topics
from runtime.context import AgentContext
from storage.ledger import FillRefused, Ledger, LedgerError

NAMESPACE = "execution"
CURSORS_KEY = "fill_cursors"
INTENTS_NAMESPACE = "execution.intents"


class SettlementError(Exception):
    """The ledger refused a venue's fill (unknown order, over-fill, conflicting duplicate): the books and the
    venue disagree, so trading must stop."""

    def __init__(self, fill: BrokerFill, reason: str) -> None:
        super().__init__(f"fill {fill.venue}/{fill.trade_id} refused by the ledger: {reason}")
        self.fill = fill
        self.reason = reason

    @property
    def metrics(self) -> dict[str, Any]:
        f = self.fill
        return {
            "venue": f.venue,
            "trade_id": f.trade_id,
            "client_order_id": f.client_order_id,
            "symbol": f.symbol,
            "side": f.side,
            "qty": f.qty,
            "price": f.price,
            "reason": self.reason,
        }


class Settlement:
    """Fill cursors per venue and the client-order-id -> intent-id map, shared by execution and reconciliation."""

    def __init__(self, venues: Venues) -> None:
        self.venues = venues
        self._cursors: dict[str, str | None] | None = None
        self._intents: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def remember_intents(self, ctx: AgentContext, tick_id: str, intents: dict[str, str]) -> None:
        """Note which intent each client order id carries: one document per tick (an order row has its tick)."""
        self._intents.update(intents)
        await ctx.ledger.put_json(INTENTS_NAMESPACE, tick_id, intents, ts=ctx.clock.now())

    async def intent_of(self, ledger: Ledger, client_order_id: str) -> str | None:
        found = self._intents.get(client_order_id)
        if found is None:  # after a restart: through the order's tick
            order = await ledger.order(client_order_id)
            saved = await ledger.get_json(INTENTS_NAMESPACE, order.tick_id) if order and order.tick_id else None
            if isinstance(saved, dict):
                self._intents.update({str(k): str(v) for k, v in saved.items()})
                found = self._intents.get(client_order_id)
        return found

    async def collect(self, ctx: AgentContext, tick_id: str | None) -> list[FillReport]:
        """Apply and publish every fill the venues have after their cursors.

        Raises:
            SettlementError: the ledger refused a fill; the cursor stays before it.
        """
        async with self._lock:
            ledger = ctx.ledger
            if self._cursors is None:
                saved = await ledger.get_json(NAMESPACE, CURSORS_KEY)
                self._cursors = dict(saved) if isinstance(saved, dict) else {}
            reports: list[FillReport] = []
            for broker in self.venues:
                batch = await broker.fills_since(self._cursors.get(broker.venue))
                if not batch.fills:
                    continue
                for fill in batch.fills:
                    try:
                        await ledger.apply_fill(fill.to_ledger())
                    except (FillRefused, LedgerError) as exc:
                        raise SettlementError(fill, str(exc)) from exc
                    report = FillReport(
                        client_order_id=fill.client_order_id,
                        intent_id=await self.intent_of(ledger, fill.client_order_id),
                        venue=fill.venue,
                        trade_id=fill.trade_id,
                        symbol=fill.symbol,
                        side=fill.side,
                        qty=fill.qty,
                        price=fill.price,
                        commission=fill.commission,
                        ts=fill.ts,
                    )
                    await ctx.publish(topics.EXECUTION_FILL, "execution.fill", report, tick_id=tick_id)
                    reports.append(report)
                self._cursors[broker.venue] = batch.cursor
                await ledger.put_json(NAMESPACE, CURSORS_KEY, self._cursors, ts=ctx.clock.now())
            return reports
