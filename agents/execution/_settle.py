"""Settlement: every venue fill reaches the ledger exactly once and is reported on ``execution.fill``.

Each venue hands out fills after a cursor. The ledger applies a fill idempotently on ``(venue, trade_id)``; a
tick's fills from every venue are applied in one transaction, and the cursors saved with them (ledger kv) are
those whose fills were all applied and published before. A crash re-reads the last batch: the ledger ignores
it as duplicates, and it is published again, so ``execution.fill`` is at-least-once (consumers deduplicate on
``(venue, trade_id)``, as for any QoS 1 message).
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

    def __init__(self, fill: BrokerFill, reason: str, index: int = 0) -> None:
        super().__init__(f"fill {fill.venue}/{fill.trade_id} refused by the ledger: {reason}")
        self.fill = fill
        self.reason = reason
        self.index = index  # its place in the batch collected

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
        self._cursors: dict[str, str | None] | None = None  # every fill before these was applied and published
        self._saved: dict[str, str | None] = {}  # the cursors as the ledger holds them
        self._intents: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @staticmethod
    def intents_document(tick_id: str, intents: dict[str, str]) -> dict[tuple[str, str], Any]:
        """The ledger document noting which intent each client order id carries: one per tick (an order row has
        its tick), written with the tick's orders."""
        return {(INTENTS_NAMESPACE, tick_id): intents}

    def remember_intents(self, intents: dict[str, str]) -> None:
        self._intents.update(intents)

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
        """Apply and publish every fill the venues have after their cursors: all of them in one transaction.

        The cursors written with a batch are those before it (every fill before them was published); the
        cursors after it are kept in memory once its fills are published. A crash therefore re-reads at most the
        last batch: the ledger ignores it as duplicates and it is published again (at-least-once).

        Raises:
            SettlementError: the ledger refused a fill; the fills before it are applied and published, the
                cursors stay before it.
        """
        async with self._lock:
            ledger = ctx.ledger
            if self._cursors is None:
                saved = await ledger.get_json(NAMESPACE, CURSORS_KEY)
                self._cursors = dict(saved) if isinstance(saved, dict) else {}
                self._saved = dict(self._cursors)
            cursors = dict(self._cursors)
            fills: list[BrokerFill] = []
            for broker in self.venues:
                batch = await broker.fills_since(self._cursors.get(broker.venue))
                if batch.fills:
                    fills.extend(batch.fills)
                    cursors[broker.venue] = batch.cursor
            if not fills:
                return []
            refused: SettlementError | None = None
            try:
                await self._apply(ledger, fills, ctx)
            except SettlementError as exc:
                refused, fills = exc, fills[: exc.index]
                if fills:  # book and publish the fills before the refused one, as one at a time would have
                    await self._apply(ledger, fills, ctx)
            reports = [await self._report(ledger, f) for f in fills]
            for report in reports:
                await ctx.publish(topics.EXECUTION_FILL, "execution.fill", report, tick_id=tick_id)
            if refused is not None:
                raise refused
            self._cursors = cursors
            return reports

    async def save_cursors(self, ctx: AgentContext) -> None:
        """Write the cursors kept in memory if the ledger's are behind (at a stop)."""
        async with self._lock:
            if self._cursors is not None and self._cursors != self._saved:
                await ctx.ledger.put_json(NAMESPACE, CURSORS_KEY, self._cursors, ts=ctx.clock.now())
                self._saved = dict(self._cursors)

    async def _apply(self, ledger: Ledger, fills: list[BrokerFill], ctx: AgentContext) -> None:
        documents = {(NAMESPACE, CURSORS_KEY): self._cursors} if self._cursors != self._saved else None
        try:
            await ledger.apply_fills([f.to_ledger() for f in fills], ts=ctx.clock.now(), documents=documents)
        except (FillRefused, LedgerError) as exc:
            index = exc.index if isinstance(exc, FillRefused) else 0
            raise SettlementError(fills[index], str(exc), index) from exc
        if documents is not None:
            self._saved = dict(self._cursors or {})

    async def _report(self, ledger: Ledger, fill: BrokerFill) -> FillReport:
        return FillReport(
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
