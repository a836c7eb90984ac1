"""The execution agent (stage EXECUTION): settle the new bar's fills, then send the final orders.

Each tick: (a) the venues see the new bar (a paper venue fills working orders on it) and every new fill is
applied to the ledger and published on ``execution.fill``; (b) the intents approved by risk AND compliance
are sent in priority order. The tick's orders are persisted (status ``new``) in one transaction before any is
sent, under client order ids from the ledger's durable counter (``AH-<env>-<number:08d>``), so ids stay unique
across restarts; a venue takes them in batches (stopping at its first refusal, handled before anything later goes
out) and their answers are written in one transaction. A timeout makes the order ``unknown`` (reconciled later,
never retried elsewhere: that could double it); a rejection or an unreachable venue is retried on the next venue
while the price is still within the collar; ``failure_limit`` consecutive failures pull the kill switch (runbook
SOP 5). On a halt, :meth:`ExecutionAgent.safe_state` cancels every open order at the venues and in the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from agents.compliance import ComplianceGateError
from agents.compliance import final_orders as compliance_final_orders
from agents.execution._broker import (
    Broker,
    BrokerAck,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
)
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


@dataclass(slots=True)
class _Send:
    """One order of the tick on its way: its outcome and the errors met."""

    coid: str
    intent: OrderIntent
    request: OrderRequest
    status: str = "new"
    sent: bool = False
    errors: list[str] = field(default_factory=list)


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
        self._unsaved: dict[str, dict[str, Any]] = {}  # order changes of the sends in progress, not yet written

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await self.venues.start()
        await ctx.ledger.fund(self.capital, ts=ctx.clock.now())
        saved = await ctx.ledger.get_json(NAMESPACE, GUARD_KEY)
        self.guard = FailureGuard.from_json(self.settings.failure_limit, saved)

    async def stop(self) -> None:
        try:
            if self.ctx is not None:
                await self.settlement.save_cursors(self.ctx)  # a clean restart re-reads nothing
        finally:
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
            async with self._send_lock:  # a halt's cancel-all waits for the tick's sends and finds them recorded
                if self._blocked():
                    failures.update({i.id: "not sent: trading is halted or paused" for i in sendable})
                else:
                    for send in await self._place_all(sendable, tick, view):
                        if send.sent:
                            submitted.append(send.coid)
                        if why := "; ".join(send.errors):
                            failures[send.intent.id] = f"{send.status}: {why}"
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

    async def _place_all(self, intents: list[OrderIntent], tick: Tick, view: MarketView | None) -> list[_Send]:
        """Persist every order of the tick (status ``new``) in one transaction, then send them in priority order,
        the primary venue taking them in batches; returns each order's outcome, recorded in the ledger.

        A venue's batch stops at its first order not acknowledged, and that failure is handled (the failure
        count, a halt, a retry on an alternate venue) before any later order goes out: the decisions are those of
        one order at a time. The ledger is written before each retry (the row names the venue before the order
        can be live there), at each failure (the failure count) and once at the end. Held under the send lock.
        """
        ctx = self.context
        now = ctx.clock.now()
        venue = self.venues.primary.venue
        sends: list[_Send] = []

        def build(numbers: list[int]) -> tuple[list[Order], dict[tuple[str, str], Any]]:
            orders: list[Order] = []
            for number, intent in zip(numbers, intents, strict=True):
                coid, limit = client_order_id(ctx.env, number), self._limit(intent)
                orders.append(Order(coid, intent.symbol, intent.side, intent.qty, venue, now, status="new",
                                    limit_price=limit, tick_id=tick.id, strategy=intent.strategy,
                                    priority=intent.priority))  # fmt: skip
                sends.append(_Send(coid, intent, OrderRequest(coid, intent.symbol, intent.side, intent.qty, limit)))
            return orders, self.settlement.intents_document(tick.id, {s.coid: s.intent.id for s in sends})

        await ctx.ledger.insert_new_orders(len(intents), build, ts=now)
        self.settlement.remember_intents({s.coid: s.intent.id for s in sends})
        rest = sends
        try:
            while rest:
                if self._blocked():
                    for send in rest:
                        self._close(send, "cancelled", "not sent: trading is halted or paused")
                    break
                answers = await self._submit(self.venues.primary, [s.request for s in rest])
                for send, answer in zip(rest, answers, strict=False):
                    await self._answered(send, 0, self.venues.primary, answer, tick, view)
                rest = rest[len(answers) :]
        finally:
            await self._flush()
        return sends

    async def _submit(self, broker: Broker, requests: list[OrderRequest]) -> list[BrokerAck | BrokerError | str]:
        """One venue call; an answer per order taken. No answer at all (a timeout, anything but a refusal) makes
        every order of the batch an error text: each may be live at the venue."""
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                answers: list[BrokerAck | BrokerError | str] = list(await broker.submit_many(requests))
        except (BrokerRejected, BrokerUnavailable) as exc:  # refused as a whole: the first order's refusal
            return [exc]
        except Exception as exc:
            detail = str(exc) or f"no answer within {self.settings.timeout_seconds:g}s"
            return [detail] * len(requests)
        if not answers:  # a venue that answers nothing has not answered
            return ["the venue answered none of the batch"] * len(requests)
        return answers

    async def _answered(
        self,
        send: _Send,
        attempt: int,
        broker: Broker,
        answer: BrokerAck | BrokerError | str,
        tick: Tick,
        view: MarketView | None,
    ) -> None:
        """Record one send's answer; a refusal goes on to the alternate venues while allowed."""
        ctx = self.context
        send.sent = True
        while True:
            if isinstance(answer, BrokerAck):
                await self._succeeded()
                send.status = "acknowledged"
                send.errors.clear()  # taken in the end: nothing failed for the report
                self._unsaved[send.coid] = {"status": "acknowledged", "broker_order_id": answer.broker_order_id,
                                            "venue": answer.venue, "attempts": attempt + 1}  # fmt: skip
                return
            if isinstance(answer, (BrokerRejected, BrokerUnavailable)):
                kind = "rejected" if isinstance(answer, BrokerRejected) else "unavailable"
                detail = answer.reason
                self._unsaved[send.coid] = {"attempts": attempt + 1, "reason": str(answer)}
            else:  # a timeout, or anything but a clear refusal: the order may be live at the venue
                kind, detail = "unknown", str(answer)
                reason = f"{broker.venue}: {detail}; unknown until reconciled"
                self._unsaved[send.coid] = {"status": "unknown", "attempts": attempt + 1, "reason": reason}
            event = {"client_order_id": send.coid, "intent_id": send.intent.id, "symbol": send.intent.symbol,
                     "venue": broker.venue, "attempt": attempt + 1, "kind": kind, "detail": detail}  # fmt: skip
            send.errors.append(f"{broker.venue} {kind}: {detail}")
            await ctx.record("execution.send_failed", event, tick.id)
            halted = await self._failed(event, tick.id)
            if kind == "unknown":
                send.status = "unknown"
                await ctx.alert("execution_unknown", "warning", f"order {send.coid} unknown at {broker.venue}: "
                                f"{detail}", details=event)  # fmt: skip
                return
            attempt += 1
            if halted or attempt > self.settings.max_retries:
                self._close(send, "rejected")
                return
            broker = self.venues.route(attempt)
            if why := self._retry_blocked(send.intent, view):
                send.errors.append(why)
                self._close(send, "rejected")
                return
            if self._blocked():
                send.errors.append("runtime halted before the send")
                self._close(send, "cancelled")
                return
            self._unsaved.setdefault(send.coid, {})["venue"] = broker.venue
            await self._flush()  # the order row names the venue before the order can be live there
            answer = (await self._submit(broker, [send.request]))[0]

    def _close(self, send: _Send, status: str, reason: str = "") -> None:
        """A final status for an order that will not be (re)sent; written with the next flush."""
        send.status = status
        if reason:
            send.errors.append(reason)
        self._unsaved.setdefault(send.coid, {}).update(status=status, reason="; ".join(send.errors)[:2000])

    async def _flush(self, *, guard: bool = False) -> None:
        """Write the order changes not yet in the ledger (and the failure guard) in one transaction."""
        if not self._unsaved and not guard:
            return
        ctx = self.context
        documents = {(NAMESPACE, GUARD_KEY): self.guard.to_json()} if guard else None
        unsaved, self._unsaved = self._unsaved, {}
        try:
            await ctx.ledger.update_orders(unsaved, ts=ctx.clock.now(), documents=documents)
        except BaseException:
            self._unsaved = {**unsaved, **self._unsaved}
            raise

    # -- SOP 5: repeated failure halts ---------------------------------------------------------------
    async def _save_guard(self) -> None:
        await self._flush(guard=True)  # with the order changes not yet written: one transaction

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
                    cancelled.append(order.client_order_id)
                else:
                    problems.append(f"{order.client_order_id}: {outcome}")
            if cancelled:  # one transaction; a crash before it leaves them open here, cancelled at the venue: the
                # next reconciliation takes the venue's word
                why = f"cancelled: {reason}"[:2000]
                await ledger.update_orders({c: {"status": "cancelled", "reason": why} for c in cancelled},
                                           ts=ctx.clock.now())  # fmt: skip
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
