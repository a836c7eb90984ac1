"""The risk agent (stage RISK): monitor the book, fire the breakers, then judge the trade pack.

Per tick: mark the books at the view's prices; stop-losses, daily loss and drawdown (runbook SOP 3: a risk
breach pauses new orders; the daily kill level trips ``risk.kill_switch``); then the pre-trade checks. It puts
:class:`~agents.types.Verdicts` under ``RISK_VERDICTS``, the stop-loss symbols under ``STOP_LOSS`` and the gross
cap under ``GROSS_CAP``; publishes on ``risk.approval`` (and ``risk.stop_loss``); audits every verdict; alerts
``risk_reject`` (one per tick), ``risk_stop_loss``, ``risk_stress_breach`` and ``risk_alert`` (breakers, soft
breaches: once per limit per session, needing acknowledgement).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agents.market import MarketView
from agents.risk._book import mark
from agents.risk._messages import CONSTRAINTS_KEY, NAMESPACE, RiskConstraints, StopLossNotice, StopLossPosition
from agents.risk._monitor import MonitorReport
from agents.risk._monitor import monitor as run_monitor
from agents.risk._pretrade import PretradeContext, PretradeResult, check_intents
from agents.risk._settings import RiskSettings
from agents.risk._state import Latches, NavCloses, OrderThrottle
from agents.risk._usage import Usage, soft_breaches, usages
from agents.types import MARKET, RISK_VERDICTS, TRADE_PACK, OrderIntent, TradePack
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.context import AgentContext
from runtime.errors import Refused
from runtime.state import RuntimeState

STOP_LOSS = "stop_loss"
"""Tick output: ``list[str]``, the symbols under their stop-loss (positions to close)."""
GROSS_CAP = "gross_cap"
"""Tick output: ``float``, the gross leverage cap (fraction of NAV) the council must size to."""


class RiskAgent(Agent):
    name = "risk"
    stage = Stage.RISK
    version = "1"

    def __init__(self, settings: RiskSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or RiskSettings()
        self.navs = NavCloses()
        self.latches = Latches()
        self.throttle = OrderThrottle(self.settings.throttle_window_seconds)
        self.constraints = RiskConstraints()
        self._snapshot: dict[str, Any] | None = {}
        self._snapshot_of: tuple[MonitorReport, PretradeResult, list[Usage], float, list[str]] | None = None

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        self.latches = await Latches.load(ctx.ledger)
        await self.throttle.seed(ctx.ledger, ctx.clock.now(), self.settings.max_orders_per_window)

    @property
    def snapshot(self) -> dict[str, Any]:
        """The last tick's risk figures (built when first read: most ticks nobody asks)."""
        if self._snapshot is None:
            assert self._snapshot_of is not None
            self._snapshot = _snapshot(*self._snapshot_of)
        return self._snapshot

    @property
    def var_nav(self) -> float | None:
        """The last tick's post-trade VaR as a fraction of NAV: ``snapshot["var_nav"]`` without building the rest."""
        if self._snapshot_of is None:
            return None
        report, result = self._snapshot_of[0], self._snapshot_of[1]
        return round(result.var_after / report.nav, 6) if report.nav > 0 else None

    def health(self) -> AgentHealth:
        return AgentHealth(True, data={"limits": self.settings.limits_summary(), "risk": self.snapshot})

    async def on_tick(self, tick: Tick) -> None:
        ctx, s = self.context, self.settings
        view = tick.get(MARKET, MarketView)
        pack = tick.get(TRADE_PACK, TradePack)
        intents = pack.intents if pack is not None else []
        # the session key the books record NAV under (agents.execution's reconciliation: view.as_of)
        session = (view.as_of if view is not None else tick.ts.date()).isoformat()
        books = await ctx.ledger.books()
        book = mark(books, view, s, [i.symbol for i in intents])
        closes = await self.navs.refresh(ctx.ledger, session, s.drawdown_sessions)
        report = run_monitor(book, closes, session, s, initial_capital=books.account.initial_capital)
        blocked = await self._breakers(report, tick)
        gross_cap = s.gross_cap_in_drawdown if self.latches.drawdown_since else s.max_gross_leverage
        stopped = await self._stop_losses(report, tick)
        tick.put(STOP_LOSS, stopped)
        tick.put(GROSS_CAP, gross_cap)
        await self._save_constraints(RiskConstraints(session, tuple(stopped), gross_cap), tick)
        context = PretradeContext(
            reducing_only=tick.reducing_only or ctx.state() == RuntimeState.REDUCING,
            gross_cap=gross_cap,
            orders_in_window=self.throttle.count(tick.ts),
            stop_loss=frozenset(stopped),
            blocked=blocked,
        )
        result = check_intents(intents, books, view, s, context, exposure=book)
        self.throttle.record(tick.ts, result.approved)
        tick.put(RISK_VERDICTS, result.verdicts)
        await ctx.publish(topics.RISK_APPROVAL, "verdicts", result.verdicts, tick_id=tick.id)
        if intents:
            await ctx.record("risk.verdicts", _audit(intents, result, report), tick.id)
        await self._reject_alert(intents, result, tick)
        found = usages(result, report, s, gross_cap, floor=0.5)
        await self._limit_alerts(found, session, tick)
        await self.latches.save(ctx.ledger, tick.ts)
        self._snapshot, self._snapshot_of = None, (report, result, found, gross_cap, stopped)

    # -- breakers ----------------------------------------------------------------------------------------------
    async def _breakers(self, report: MonitorReport, tick: Tick) -> str | None:
        """Fire the loss breakers once per session; returns why every intent of this tick must be rejected."""
        ctx, s, latches = self.context, self.settings, self.latches
        kill = report.daily_kill and latches.daily_kill != report.session
        pause = report.daily_pause and latches.daily_pause != report.session
        if not (kill or pause or report.drawdown_breach or latches.drawdown_since is not None):
            return None  # the usual tick: no breaker to fire or release
        metrics: dict[str, Any] = {**report.metrics(), "tick_id": tick.id}
        if kill:
            reason = (
                f"daily loss {report.daily_return:+.2%} vs the {report.prev_session or 'opening'} close "
                f"{report.prev_close:,.2f} reached the kill level -{s.daily_loss_kill:.2%}"
            )
            latches.set("daily_kill", report.session)
            latches.set("daily_pause", report.session)  # a resume after the kill must not re-pause today
            await latches.save(ctx.ledger, tick.ts)
            await ctx.kill_switch(topics.RISK_KILL_SWITCH, reason, metrics)
            await ctx.record("risk.breaker", {"breaker": "daily_loss_kill", "reason": reason, **metrics}, tick.id)
            return f"daily_loss_kill: {reason}"
        if pause:
            reason = (
                f"daily loss {report.daily_return:+.2%} vs the {report.prev_session or 'opening'} close "
                f"{report.prev_close:,.2f} reached the pause level -{s.daily_loss_pause:.2%}"
            )
            latches.set("daily_pause", report.session)
            await latches.save(ctx.ledger, tick.ts)
            await self._move(RuntimeState.PAUSED, reason, tick)
            details = {"breaker": "daily_loss_pause", **metrics}
            await ctx.alert("risk_alert", "critical", f"PAUSED by risk: {reason}", details=details, needs_ack=True)
            return f"daily_loss_pause: {reason}"
        if report.drawdown_breach and latches.drawdown_since is None:
            reason = (
                f"{s.drawdown_sessions}-session drawdown {report.drawdown:+.2%} from the peak {report.peak:,.2f} "
                f"reached -{s.drawdown_limit:.2%}: only reducing orders; gross capped at {s.gross_cap_in_drawdown:.2f}x"
            )
            latches.set("drawdown_since", report.session)
            await latches.save(ctx.ledger, tick.ts)
            await self._move(RuntimeState.REDUCING, reason, tick)
            details = {"breaker": "drawdown", **metrics}
            await ctx.alert("risk_alert", "error", f"REDUCING by risk: {reason}", details=details, needs_ack=True)
        elif not report.drawdown_breach and latches.drawdown_since is not None:
            await ctx.record(
                "risk.drawdown_recovered", {"since": latches.drawdown_since, **metrics}, tick.id
            )  # the cap lifts; leaving REDUCING stays an operator's decision
            latches.set("drawdown_since", None)
        return None

    async def _move(self, state: RuntimeState, reason: str, tick: Tick) -> None:
        try:
            await self.context.set_state(state, reason)
        except Refused as exc:  # e.g. already HALTED: the stricter state stands
            await self.context.record(
                "risk.state_refused", {"wanted": state.value, "reason": reason, "refusal": exc.reason}, tick.id
            )

    # -- stop-losses ---------------------------------------------------------------------------------------------
    async def _stop_losses(self, report: MonitorReport, tick: Tick) -> list[str]:
        hits = report.stop_losses
        if not hits:
            return []
        ctx = self.context
        notice = StopLossNotice(
            as_of=date.fromisoformat(report.session),
            positions=[
                StopLossPosition(symbol=h.symbol, qty=h.qty, avg_cost=h.avg_cost, price=h.price, loss=h.loss)
                for h in hits
            ],
        )
        await ctx.publish(topics.RISK_STOP_LOSS, "risk.stop_loss", notice, tick_id=tick.id)
        fresh = [h for h in hits if self.latches.first_today(report.session, f"stop_loss:{h.symbol}")]
        if fresh:
            await ctx.alert(
                "risk_stop_loss",
                "warning",
                "stop-loss: close " + "; ".join(h.describe() for h in fresh),
                details={"positions": [p.model_dump() for p in notice.positions], "tick_id": tick.id},
            )
        return [h.symbol for h in hits]

    async def _save_constraints(self, constraints: RiskConstraints, tick: Tick) -> None:
        unchanged = (constraints.stop_loss, constraints.gross_cap) == (
            self.constraints.stop_loss,
            self.constraints.gross_cap,
        )
        if unchanged and self.constraints.session is not None:
            return  # written only when they change: one kv write per change, not per tick
        self.constraints = constraints
        await self.context.ledger.put_json(NAMESPACE, CONSTRAINTS_KEY, constraints.to_json(), ts=tick.ts)

    # -- alerts ------------------------------------------------------------------------------------------------
    async def _reject_alert(self, intents: list[OrderIntent], result: PretradeResult, tick: Tick) -> None:
        rejected = result.rejected
        if not rejected:
            return
        by_id = {i.id: i for i in intents}
        lines = [
            {
                "intent_id": v.intent_id,
                "symbol": v.symbol,
                "side": by_id[v.intent_id].side,
                "qty": by_id[v.intent_id].qty,
                "strategy": by_id[v.intent_id].strategy,
                "reasons": v.reasons,
            }
            for v in rejected
        ]
        summary = ", ".join(f"{v.symbol} ({v.reasons[-1].split(':', 1)[0]})" for v in rejected[:10])
        more = f" and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        await self.context.alert(
            "risk_reject",
            "warning",
            f"risk rejected {len(rejected)} of {len(intents)} intent(s): {summary}{more}",
            details={"tick_id": tick.id, "rejected": lines},
        )

    async def _limit_alerts(self, found: list[Usage], session: str, tick: Tick) -> None:
        ctx, s = self.context, self.settings
        for u in found:
            if u.limit == "stress" and u.utilisation > 1 and self.latches.first_today(session, f"breach:{u.key}"):
                await ctx.alert(
                    "risk_stress_breach",
                    "error",
                    f"stress breach: {u.detail}",
                    details={
                        "scenario": u.key.split(":", 1)[1],
                        "utilisation": round(u.utilisation, 4),
                        "tick_id": tick.id,
                    },
                )
        fresh = [u for u in soft_breaches(found, s.soft_breach_ratio) if self.latches.first_today(session, u.key)]
        if fresh:
            words = [f"{'BREACH' if u.utilisation >= 1 else 'soft'} {u.utilisation:.0%}: {u.detail}" for u in fresh]
            await ctx.alert(
                "risk_alert",
                "warning",
                f"risk limits at or above {s.soft_breach_ratio:.0%}: " + "; ".join(words),
                details={"limits": [_usage_json(u) for u in fresh], "tick_id": tick.id},
                needs_ack=True,
            )


def _usage_json(u: Usage) -> dict[str, Any]:
    return {"key": u.key, "utilisation": round(u.utilisation, 4), "detail": u.detail}


def _audit(intents: list[OrderIntent], result: PretradeResult, report: MonitorReport) -> dict[str, Any]:
    by_id = {i.id: i for i in intents}
    return {
        **report.metrics(),
        "var_before": round(result.var_before, 2),
        "var_after": round(result.var_after, 2),
        "var_method": result.var_method,
        "approved": result.approved,
        "cut": result.cut,
        "verdicts": [
            {
                "intent_id": v.intent_id,
                "symbol": v.symbol,
                "side": by_id[v.intent_id].side,
                "requested": by_id[v.intent_id].qty,
                "approved": v.approved,
                "qty": v.qty,
                "reasons": v.reasons,
            }
            for v in result.verdicts.items
        ],
    }


def _snapshot(
    report: MonitorReport, result: PretradeResult, found: list[Usage], gross_cap: float, stopped: list[str]
) -> dict[str, Any]:
    nav = report.nav
    top = sorted(found, key=lambda u: -u.utilisation)[:5]
    return {
        **report.metrics(),
        "gross_leverage": round(result.after.gross / nav, 4) if nav > 0 else None,
        "gross_cap": gross_cap,
        "var_nav": round(result.var_after / nav, 6) if nav > 0 else None,
        "var_method": result.var_method,
        "stress_nav": {k: round(v / nav, 4) for k, v in result.stress_after.items()} if nav > 0 else {},
        "stop_loss": stopped,
        "top_utilisation": [{"key": u.key, "utilisation": round(u.utilisation, 4)} for u in top],
    }


def build_risk_agent(settings: RiskSettings | None = None) -> RiskAgent:
    """The risk agent for ``app`` to register (settings from ``RISK_*`` when none are given)."""
    return RiskAgent(settings or RiskSettings())
