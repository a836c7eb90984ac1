"""The execution agent (stage EXECUTION): settle the new bar's fills, then send the final orders.

Each tick: (a) the venues see the new bar (a paper venue fills working orders on it) and every new fill is
applied to the ledger and published on ``execution.fill``; (b) the intents approved by risk AND compliance
are sent in priority order. Each order is persisted (status ``new``) before it is sent, under a client order
id from the ledger's durable counter (``AH-<env>-<number:08d>``), so ids stay unique across restarts. A timeout
makes the order ``unknown`` (reconciled later, never retried elsewhere: that could double it); a rejection or
an unreachable venue is retried on the next venue while the price is still within the collar; ``failure_limit``
consecutive failures pull the kill switch (runbook SOP 5). On a halt, :meth:`ExecutionAgent.safe_state` cancels
every open order at the venues and in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents.compliance import ComplianceGateError
from agents.compliance import final_orders as compliance_final_orders
from agents.execution._broker import Broker, BrokerError, BrokerRejected, BrokerUnavailable, OrderRequest
from agents.execution._final import FinalOrders, FinalOrdersFn, resolve_final_orders
from agents.execution._guard import FailureGuard, halted_since
from agents.execution._settings import ExecutionSettings
from agents.execution._settle import NAMESPACE, Settlement, SettlementError
from agents.execution._venues import Venues
from agents.market import MarketView
from agents.types import (
    COMPLIANCE_VERDICTS,
    EXECUTION_REPORT,
    MARKET,
    RISK_VERDICTS,
    TRADE_PACK,
    ExecutionReport,
    FillReport,
    OrderIntent,
    TradePack,
    Verdicts,
)
from runtime import topics
from runtime.agent import Agent, AgentHealth, SafeState, Stage, Tick
from runtime.context import AgentContext
from storage.records import Order

log = logging.getLogger(__name__)

GUARD_KEY = "failure_guard"
SETTLED_FILLS = "settled_fills"  # tick output: the fills settled this tick (list[FillReport])


def client_order_id(env: str, number: int) -> str:
    return f"AH-{env}-{number:08d}"


class ExecutionAgent(Agent):
    """Sends the final orders to the venues and settles their fills into the ledger."""

    name = "execution"
    stage = Stage.EXECUTION

    def __init__(
        self,
        settings: ExecutionSettings,
        venues: Venues,
        settlement: Settlement,
        *,
        capital: float | None = None,
        rule: FinalOrdersFn | None = compliance_final_orders,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.venues = venues
        self.settlement = settlement
        self.capital = capital if capital is not None else settings.initial_capital
        self.rule = rule
        self.guard = FailureGuard(settings.failure_limit)
        self._send_lock = asyncio.Lock()  # a halt's cancel-all never interleaves with a send

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await self.venues.start()
        await ctx.ledger.fund(self.capital, ts=ctx.clock.now())
        saved = await ctx.ledger.get_json(NAMESPACE, GUARD_KEY)
        self.guard = FailureGuard.from_json(self.settings.failure_limit, saved)

    async def stop(self) -> None:
        await self.venues.stop()

    def health(self) -> AgentHealth:
        data = {"venues": self.venues.names, "consecutive_failures": self.guard.consecutive}
        if self.guard.tripped:
            return AgentHealth(False, "halted after repeated execution failures: manual intervention", data)
        return AgentHealth(True, "", data)

    # -- the tick ------------------------------------------------------------------------------------
    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        view = tick.get(MARKET, MarketView)
        settled = tick.outputs.get(SETTLED_FILLS)
        fills = settled if settled is not None else await self.settle(tick, view)
        if self.guard.tripped:
            await self._check_halt_cleared(tick.id)
        pack = tick.get(TRADE_PACK, TradePack)
        try:
            final = resolve_final_orders(
                pack, tick.get(RISK_VERDICTS, Verdicts), tick.get(COMPLIANCE_VERDICTS, Verdicts), rule=self.rule
            )
        except (ComplianceGateError, TypeError) as exc:  # the gate fails closed: nothing goes out this tick
            why = f"compliance gate refused the verdicts: {exc}: fail closed"
            final = FinalOrders([], {}, {i.id: why for i in (pack.intents if pack else [])})
        failures = dict(final.fail_closed)
        if final.fail_closed:
            await ctx.record("execution.fail_closed", {"intents": final.fail_closed}, tick.id)
            await ctx.alert(
                "execution_fail_closed",
                "warning",
                f"{len(final.fail_closed)} intent(s) without both verdicts: not sent",
                details={"intents": final.fail_closed},
            )
        sendable: list[OrderIntent] = []
        for intent in final.orders:
            if tick.reducing_only and not intent.reduces_exposure:
                failures[intent.id] = "runtime is REDUCING: only exposure-reducing orders are sent"
            else:
                sendable.append(intent)
        submitted: list[str] = []
        if sendable and not self._blocked():
            # One durable reservation and one intent map for the tick's orders: fewer fsyncs per order.
            numbers = await ctx.ledger.reserve_order_numbers(len(sendable))
            coids = [client_order_id(ctx.env, n) for n in numbers]
            await self.settlement.remember_intents(
                ctx, tick.id, {c: i.id for c, i in zip(coids, sendable, strict=True)}
            )
            for coid, intent in zip(coids, sendable, strict=True):
                if self._blocked():
                    failures[intent.id] = "not sent: trading is halted or paused"
                    continue
                status, why = await self._place(coid, intent, tick, view)
                if status != "not sent":
                    submitted.append(coid)
                if why:
                    failures[intent.id] = f"{status}: {why}"
            await ctx.record("execution.orders", {"submitted": submitted, "failures": failures}, tick.id)
        else:
            failures.update({i.id: "not sent: trading is halted or paused" for i in sendable})
        tick.put(EXECUTION_REPORT, ExecutionReport(submitted=submitted, fills=fills, failures=failures))

    async def settle(self, tick: Tick, view: MarketView | None) -> list[FillReport]:
        """The venues see the session's bar; every new fill is applied to the ledger (and published).

        Normally done early in the tick by :class:`SettlementAgent`, so that the director and the council decide
        on the session's close knowing the fills of its open; done here when no settlement agent runs.
        """
        if view is not None:
            for broker in self.venues:
                await broker.on_bar(view)
        try:
            fills = await self.settlement.collect(self.context, tick.id)
        except SettlementError as exc:
            await self._halt(f"execution failure: {exc}", exc.metrics, tick.id)
            raise
        tick.put(SETTLED_FILLS, fills)
        return fills

    def _blocked(self) -> bool:
        return self.guard.tripped or not self.context.trading_allowed

    def _limit(self, intent: OrderIntent) -> float | None:
        bps = self.settings.limit_offset_bps
        if bps is None:
            return None
        sign = 1.0 if intent.side == "buy" else -1.0
        return round(intent.ref_price * (1.0 + sign * bps / 10_000.0), 4)

    def _retry_blocked(self, intent: OrderIntent, view: MarketView | None) -> str:
        """Why a retry may not go out ('' when it may): the price must still be within the collar."""
        last = view.last_price(intent.symbol) if view is not None else None
        if last is None:
            return "no retry: no current price to check the collar against"
        moved = abs(last / intent.ref_price - 1.0) * 10_000.0
        if moved > self.settings.retry_collar_bps:
            return f"no retry: price moved {moved:.0f} bps from the decision, collar {self.settings.retry_collar_bps:g}"
        return ""

    async def _place(self, coid: str, intent: OrderIntent, tick: Tick, view: MarketView | None) -> tuple[str, str]:
        """Persist, then send (with retries); returns (final status, why not acknowledged).

        The whole life of the order, to its last ledger write, holds the send lock: a halt's cancel-all waits
        for it and then finds the order in its final status, never half-way.
        """
        async with self._send_lock:
            if self._blocked():
                return "not sent", "trading is halted or paused"
            ctx = self.context
            ledger = ctx.ledger
            limit = self._limit(intent)
            await ledger.insert_order(
                Order(coid, intent.symbol, intent.side, intent.qty, self.venues.primary.venue, ctx.clock.now(),
                      status="new", limit_price=limit, tick_id=tick.id, strategy=intent.strategy,
                      priority=intent.priority)
            )  # fmt: skip
            status, errors = await self._send_with_retries(coid, intent, tick, view, limit)
            if status in ("rejected", "cancelled"):
                await ledger.update_order(coid, ts=ctx.clock.now(), status=status, reason="; ".join(errors)[:2000])
            return status, "; ".join(errors)

    async def _send_with_retries(
        self, coid: str, intent: OrderIntent, tick: Tick, view: MarketView | None, limit: float | None
    ) -> tuple[str, list[str]]:
        """Primary first, then the alternates while allowed; returns the outcome and the errors met."""
        ctx = self.context
        request = OrderRequest(coid, intent.symbol, intent.side, intent.qty, limit)
        errors: list[str] = []
        for attempt in range(self.settings.max_retries + 1):
            broker = self.venues.route(attempt)
            if attempt > 0 and (why := self._retry_blocked(intent, view)):
                errors.append(why)
                break
            if self._blocked():
                errors.append("runtime halted before the send")
                return "cancelled", errors
            if attempt > 0:  # the order row names the venue before the order can be live there
                await ctx.ledger.update_order(coid, ts=ctx.clock.now(), venue=broker.venue)
            kind, detail = await self._send(broker, request, attempt)
            event = {"client_order_id": coid, "intent_id": intent.id, "symbol": intent.symbol,
                     "venue": broker.venue, "attempt": attempt + 1, "kind": kind, "detail": detail}  # fmt: skip
            if kind == "acknowledged":
                await self._succeeded()
                return "acknowledged", []
            errors.append(f"{broker.venue} {kind}: {detail}")
            await ctx.record("execution.send_failed", event, tick.id)
            halted = await self._failed(event, tick.id)
            if kind == "unknown":
                await ctx.alert("execution_unknown", "warning", f"order {coid} unknown at {broker.venue}: {detail}",
                                details=event)  # fmt: skip
                return "unknown", errors
            if halted:
                break
        return "rejected", errors

    async def _send(self, broker: Broker, request: OrderRequest, attempt: int) -> tuple[str, str]:
        """One send, with its ledger update; returns (``acknowledged`` | ``unknown`` | ``rejected``, detail)."""
        ctx = self.context
        ledger = ctx.ledger
        coid = request.client_order_id
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                ack = await broker.submit(request)
        except (BrokerRejected, BrokerUnavailable) as exc:
            await ledger.update_order(coid, ts=ctx.clock.now(), attempts=attempt + 1, reason=str(exc))
            return "rejected" if isinstance(exc, BrokerRejected) else "unavailable", exc.reason
        except Exception as exc:  # a timeout, or anything but a clear refusal: the order may be live at the venue
            detail = str(exc) or f"no answer within {self.settings.timeout_seconds:g}s"
            reason = f"{broker.venue}: {detail}; unknown until reconciled"
            await ledger.update_order(coid, ts=ctx.clock.now(), status="unknown", attempts=attempt + 1, reason=reason)
            return "unknown", detail
        await ledger.update_order(
            coid,
            ts=ctx.clock.now(),
            status="acknowledged",
            broker_order_id=ack.broker_order_id,
            venue=ack.venue,
            attempts=attempt + 1,
        )
        return "acknowledged", ack.broker_order_id

    # -- SOP 5: repeated failure halts ---------------------------------------------------------------
    async def _save_guard(self) -> None:
        ctx = self.context
        await ctx.ledger.put_json(NAMESPACE, GUARD_KEY, self.guard.to_json(), ts=ctx.clock.now())

    async def _succeeded(self) -> None:
        if self.guard.consecutive:
            self.guard = self.guard.succeeded()
            await self._save_guard()

    async def _failed(self, event: dict[str, Any], tick_id: str) -> bool:
        """Count a failure; at the limit pull the kill switch. True when execution is (now) halting."""
        self.guard = self.guard.failed(event)
        await self._save_guard()
        if self.guard.must_halt:
            reason = f"execution failure: {self.guard.consecutive} consecutive send failures"
            await self._halt(reason, {"consecutive_failures": self.guard.consecutive,
                                      "failures": list(self.guard.recent)[-self.guard.limit:]}, tick_id)  # fmt: skip
        return self.guard.tripped

    async def _halt(self, reason: str, metrics: dict[str, Any], tick_id: str | None) -> None:
        """Kill switch first (fastest protection), then the alert that flags manual intervention."""
        ctx = self.context
        state = await ctx.ledger.state()
        self.guard = self.guard.trip(state.seq if state else 0)
        await self._save_guard()
        await ctx.kill_switch(topics.RUNTIME_KILL_SWITCH, reason, metrics)
        await ctx.record("execution.halt", {"reason": reason, "metrics": metrics}, tick_id)
        await ctx.alert(
            "execution_failure",
            "critical",
            f"{reason}: halting; manual intervention needed (runbook SOP 5)",
            details=metrics,
            needs_ack=True,
        )

    async def _check_halt_cleared(self, tick_id: str) -> None:
        """A tick runs while execution's halt is pending: either a signed-off resume came (clear the guard) or
        the kill switch never landed (a crash between publish and handling): pull it again."""
        ctx = self.context
        assert self.guard.tripped_seq is not None
        seen = [(t.seq, t.to_state) for t in await ctx.ledger.transitions(limit=500)]
        if halted_since(seen, self.guard.tripped_seq) and ctx.trading_allowed:
            self.guard = self.guard.cleared()
            await self._save_guard()
            await ctx.record("execution.resumed", {"detail": "halt cleared by a signed-off resume"}, tick_id)
            return
        reason = f"execution failure: {self.guard.consecutive} consecutive send failures (kill switch repeated)"
        await ctx.kill_switch(topics.RUNTIME_KILL_SWITCH, reason, {"consecutive_failures": self.guard.consecutive})

    # -- halt: cancel everything ---------------------------------------------------------------------
    async def safe_state(self, reason: str) -> SafeState:
        """Cancel every open order at its venue and in the ledger. Orders a venue would not cancel stay open in
        the ledger (and make the state unsafe) so the incident names them for manual intervention."""
        ctx = self.context
        ledger = ctx.ledger
        async with self._send_lock:
            problems: list[str] = []
            notes: list[str] = []
            try:
                await self.settlement.collect(ctx, None)  # fills that happened before the cancel count
            except SettlementError as exc:
                problems.append(str(exc))
            cancelled: list[str] = []
            attempted: set[str] = set()
            for order in await ledger.open_orders():
                attempted.add(order.client_order_id)
                outcome = await self._cancel(order.client_order_id, order.venue)
                if outcome is None:
                    await ledger.update_order(order.client_order_id, ts=ctx.clock.now(), status="cancelled",
                                              reason=f"cancelled: {reason}"[:2000])  # fmt: skip
                    cancelled.append(order.client_order_id)
                else:
                    problems.append(f"{order.client_order_id}: {outcome}")
            for coid, venue_order in (await self.venues.open_orders()).items():
                if coid in attempted:
                    continue  # its cancel failed above and is already reported
                outcome = await self._cancel(coid, venue_order.venue)  # working at a venue, not open in the ledger
                known = "known to" if await ledger.order(coid) is not None else "unknown to"
                note = f"{coid} at {venue_order.venue}: working at the venue, {known} the ledger"
                if outcome is None:
                    notes.append(f"{note}; cancelled")
                else:
                    problems.append(f"{note}; {outcome}")
            await ctx.record(
                "execution.cancel_all", {"reason": reason, "cancelled": cancelled, "problems": problems, "notes": notes}
            )
        detail = "; ".join([f"cancelled {len(cancelled)} order(s)", *notes, *(f"NOT SAFE: {p}" for p in problems)])
        return SafeState(not problems, detail, cancelled)

    async def _cancel(self, coid: str, venue: str) -> str | None:
        """Cancel at the venue; None when the order is no longer live there, else why it may still be."""
        broker = self.venues.get(venue)
        if broker is None:
            return f"venue {venue} is not configured"
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                answer = await broker.cancel(coid)
        except (BrokerError, TimeoutError) as exc:
            return f"cancel failed at {venue}: {exc}"
        if answer is None or answer.state in ("cancelled", "expired", "rejected"):
            return None
        return f"the venue reports it {answer.state} (fills still to settle)"


class SettlementAgent(Agent):
    """Stage DATA, right after the data agent: settle the session's fills before anyone decides.

    The runbook's day has the 09:30 execution window and 10:00 reconciliation before the close; a tick that
    stands for the session after its close must therefore know the fills of its open when the director and the
    council run. This agent does the execution agent's settlement step (same venues, same code) early.
    """

    name = "settlement"
    stage = Stage.DATA
    order = 10

    def __init__(self, execution: ExecutionAgent) -> None:
        super().__init__()
        self.execution = execution

    async def on_tick(self, tick: Tick) -> None:
        await self.execution.settle(tick, tick.get(MARKET, MarketView))
