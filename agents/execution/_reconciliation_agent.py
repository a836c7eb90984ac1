"""The reconciliation agent (stage RECONCILIATION): the ledger against the venues after every tick.

It settles any fill still waiting, resolves ``unknown`` orders from the venues' answers, compares open orders,
positions and cash, marks positions to the day's closes, checks the NAV identity to the cent, records a NAV
point and publishes the portfolio (retained, ``state/portfolio``). Any mismatch pulls the kill switch with the
differences in its metrics.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.execution._broker import BrokerError, BrokerOrder
from agents.execution._portfolio import PORTFOLIO, PORTFOLIO_TYPE, PortfolioState, portfolio_state
from agents.execution._reconcile import check_nav, orphan_orders, position_diffs, resolve_order, venue_positions
from agents.execution._settings import ExecutionSettings
from agents.execution._settle import Settlement, SettlementError
from agents.execution._venues import Venues
from agents.market import MarketView
from agents.types import MARKET
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.context import AgentContext
from storage.records import ORDER_OPEN_STATUSES, NavPoint

log = logging.getLogger(__name__)

HISTORY_SCAN = 5_000  # NAV points read back at start: more than a session's ticks at a 60 s interval


class ReconciliationAgent(Agent):
    name = "reconciliation"
    stage = Stage.RECONCILIATION

    def __init__(self, settings: ExecutionSettings, venues: Venues, settlement: Settlement) -> None:
        super().__init__()
        self.settings = settings
        self.venues = venues
        self.settlement = settlement
        self.last: PortfolioState | None = None
        self.problems: dict[str, Any] = {}
        self._held: set[str] = set()
        self._session: str | None = None
        self._previous = 0.0
        self._last_nav: float | None = None

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await self.venues.start()
        self._session = None
        self._held = set((await ctx.ledger.books()).positions)

    async def stop(self) -> None:
        await self.venues.stop()

    def health(self) -> AgentHealth:
        if self.problems:
            return AgentHealth(False, "ledger and venues disagree", {"mismatch": self.problems})
        return AgentHealth(True, "", {"nav": self.last.nav if self.last else None})

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        ledger = ctx.ledger
        view = tick.get(MARKET, MarketView)
        mismatch: dict[str, Any] = {}
        try:
            await self.settlement.collect(ctx, tick.id)
        except SettlementError as exc:
            mismatch["fill_refused"] = exc.metrics
        try:
            async with asyncio.timeout(self.settings.timeout_seconds * max(len(self.venues), 1)):
                orders, open_ids, venue_open = await self._orders(ctx)
                accounts = await self.venues.accounts()
        except (BrokerError, TimeoutError) as exc:
            await ctx.alert("reconciliation_incomplete", "warning", f"a venue did not answer: {exc}")
            return
        if orders:
            mismatch["orders"] = orders
        orphans = orphan_orders(venue_open, open_ids)
        if orphans:
            mismatch["orphan_orders"] = orphans
        at_venues = venue_positions(accounts)
        marks = self._marks(view, at_venues)
        books = await ledger.books()  # marked at ``marks`` below: the checks and the state take them as marked
        self._held = set(books.positions)
        diffs = position_diffs({s: p.qty for s, p in books.positions.items()}, at_venues)
        if diffs:
            mismatch["positions"] = diffs
        nav = check_nav(books, accounts, marks, at_venues, marked=True)
        if not nav.ok:
            mismatch["nav"] = nav.metrics()
        self.problems = mismatch
        if mismatch:
            await self._halt(mismatch, tick.id)
        if view is None:
            if marks:
                await ledger.mark_books(marks, ts=ctx.clock.now())
            return
        state = portfolio_state(
            books,
            sector_of=view.sector,
            as_of=view.as_of,
            ts=ctx.clock.now(),
            tick_id=tick.id,
            previous_nav=await self._previous_nav(view, books.account.initial_capital),
            open_orders=len(open_ids),
            problems=sorted(mismatch),
            marks=marks,
        )
        point = NavPoint(state.ts, view.as_of.isoformat(), state.nav, state.cash, state.gross_exposure,
                         state.net_exposure, tick.id)  # fmt: skip
        await ledger.mark_books(marks, ts=ctx.clock.now(), nav=point)  # marks and NAV point: one transaction
        self._last_nav = state.nav
        self.last = state
        tick.put(PORTFOLIO, state)
        await ctx.publish(topics.STATE_PORTFOLIO, PORTFOLIO_TYPE, state, tick_id=tick.id, retain=True)

    async def _orders(self, ctx: AgentContext) -> tuple[dict[str, str], list[str], dict[str, BrokerOrder]]:
        """Resolve the ledger's open orders against the venues; returns (mismatches, still-open ids, venue open)."""
        ledger = ctx.ledger
        problems: dict[str, str] = {}
        still_open: list[str] = []
        changed: dict[str, dict[str, Any]] = {}
        resolved: list[dict[str, Any]] = []
        for order in await ledger.open_orders():
            broker = self.venues.get(order.venue)
            if broker is None:
                problems[order.client_order_id] = f"open at {order.venue}, a venue that is not configured"
                still_open.append(order.client_order_id)
                continue
            found = resolve_order(order, await broker.order_status(order.client_order_id))
            if found.mismatch:
                problems[order.client_order_id] = found.mismatch
            if found.status is not None:
                changes: dict[str, Any] = {"status": found.status, "reason": found.reason}
                if found.broker_order_id:
                    changes["broker_order_id"] = found.broker_order_id
                changed[order.client_order_id] = changes
                resolved.append({"client_order_id": order.client_order_id, "from": order.status, "to": found.status,
                                 "reason": found.reason})  # fmt: skip
            if (found.status or order.status) in ORDER_OPEN_STATUSES:
                still_open.append(order.client_order_id)
        if changed:  # one transaction for every order resolved
            await ledger.update_orders(changed, ts=ctx.clock.now())
            for event in resolved:
                await ctx.record("reconciliation.order_resolved", event)
        return problems, still_open, await self.venues.open_orders()

    def _marks(self, view: MarketView | None, at_venues: dict[str, float]) -> dict[str, float]:
        if view is None:
            return {}
        marks: dict[str, float] = {}
        closes = view.today()  # the session's closes, computed once a view (last_price, without a Bar a symbol)
        for symbol in self._held | set(at_venues):
            price = closes.get(symbol)
            if price is not None and price > 0:
                marks[symbol] = price
        return marks

    async def _previous_nav(self, view: MarketView, initial_capital: float) -> float:
        """NAV at the end of the previous session (the initial capital before the first one).

        Kept in memory; on the first tick after a start it is read back from the NAV history, so a new
        session costs no write of its own.
        """
        session = view.as_of.isoformat()
        if self._session != session:
            if self._session is None:
                points = await self.context.ledger.nav_history(limit=HISTORY_SCAN)
                earlier = [p for p in points if p.session < session]
                self._previous = earlier[-1].nav if earlier else initial_capital
            else:
                self._previous = self._last_nav if self._last_nav is not None else initial_capital
            self._session = session
        return self._previous

    async def _halt(self, mismatch: dict[str, Any], tick_id: str) -> None:
        ctx = self.context
        parts = ", ".join(f"{k} ({len(v)})" if isinstance(v, dict) else k for k, v in sorted(mismatch.items()))
        reason = f"reconciliation mismatch: ledger and venues disagree on {parts}"
        await ctx.kill_switch(topics.RUNTIME_KILL_SWITCH, reason, mismatch)
        await ctx.record("reconciliation.mismatch", mismatch, tick_id)
        await ctx.alert("reconciliation_mismatch", "critical", reason, details=mismatch, needs_ack=True)
