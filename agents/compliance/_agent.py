"""The compliance agent (stage COMPLIANCE): review what risk approved; veto what breaks the rules.

Runbook SOP 4 (Compliance Veto): block the trade, annotate the reason, inform the strategy owner. Each veto is
in :class:`~agents.types.Verdicts` under ``COMPLIANCE_VERDICTS`` and on ``compliance.approval``, audited, and
alerted as ``compliance_reject`` to the intent's strategy owner (one alert per owner per tick). Repeated vetoes
(``max_vetoes`` within ``veto_window_seconds``, counted across restarts) trip ``compliance.kill_switch``.
Execution turns verdicts into orders only through :func:`agents.compliance.final_orders`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agents.compliance._history import LastFills, VetoLog
from agents.compliance._rules import review
from agents.compliance._settings import ComplianceSettings
from agents.market import MarketView
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
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.context import AgentContext


def risk_approved(pack: TradePack | None, risk: Verdicts | None) -> list[tuple[OrderIntent, float]]:
    """The intents risk approved, with its quantity (the only ones compliance examines)."""
    if pack is None or risk is None or risk.agent != "risk":
        return []
    verdicts = risk.by_intent()
    out = []
    for intent in pack.intents:
        verdict = verdicts.get(intent.id)
        if verdict is not None and verdict.approved and verdict.qty > 0 and verdict.symbol == intent.symbol:
            out.append((intent, min(verdict.qty, intent.qty)))
    return out


NOT_EXAMINED = "not_examined"


def not_examined(pack: TradePack | None, approved: list[tuple[OrderIntent, float]]) -> list[Verdict]:
    """A closing verdict for each intent risk did not approve: already dead, not examined, not a veto.

    It keeps the verdict set complete (every intent of the pack has one), so that execution and the trace never
    mistake a risk rejection for a missing compliance verdict.
    """
    seen = {i.id for i, _ in approved}
    reason = f"{NOT_EXAMINED}: risk did not approve it"
    return [
        Verdict(intent_id=i.id, symbol=i.symbol, approved=False, qty=0.0, reasons=[reason])
        for i in (pack.intents if pack is not None else [])
        if i.id not in seen
    ]


class ComplianceAgent(Agent):
    name = "compliance"
    stage = Stage.COMPLIANCE
    version = "1"

    def __init__(self, settings: ComplianceSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or ComplianceSettings()
        self.fills = LastFills()
        self.vetoes = VetoLog(self.settings.veto_window_seconds)
        self.last_tick: dict[str, Any] = {}

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await self.vetoes.load(ctx.ledger)

    def health(self) -> AgentHealth:
        now = self.ctx.clock.now() if self.ctx is not None else None
        recent = self.vetoes.count(now) if now is not None else len(self.vetoes.times)
        return AgentHealth(True, data={"rules": self.settings.summary(), "vetoes_in_window": recent, **self.last_tick})

    async def on_tick(self, tick: Tick) -> None:
        ctx, s = self.context, self.settings
        view = tick.get(MARKET, MarketView)
        pack = tick.get(TRADE_PACK, TradePack)
        approved = risk_approved(pack, tick.get(RISK_VERDICTS, Verdicts))
        as_of = view.as_of if view is not None else tick.ts.date()
        if approved:
            # the wash-trade rule is the only reader of the last fills: with its window at 0 they are not read
            # (a later reader catches up on every fill since, in storage order: the same last fill per symbol)
            fills = await self.fills.refresh(ctx.ledger) if s.wash_window_days != 0 else {}
            books = await ctx.ledger.books()
            examined = review(approved, books, view, s, fills, as_of).items
        else:
            examined = []
        vetoed = [v for v in examined if not v.approved]
        verdicts = Verdicts(agent="compliance", items=[*examined, *not_examined(pack, approved)])
        tick.put(COMPLIANCE_VERDICTS, verdicts)
        await ctx.publish(topics.COMPLIANCE_APPROVAL, "verdicts", verdicts, tick_id=tick.id)
        self.last_tick = {"last_examined": len(approved), "last_vetoed": len(vetoed)}
        if not approved:
            return
        intents = {i.id: i for i, _ in approved}
        await ctx.record(
            "compliance.verdicts",
            {
                "session": as_of.isoformat(),
                "verdicts": [
                    {
                        "intent_id": v.intent_id,
                        "symbol": v.symbol,
                        "side": intents[v.intent_id].side,
                        "strategy": intents[v.intent_id].strategy,
                        "approved": v.approved,
                        "qty": v.qty,
                        "reasons": v.reasons,
                    }
                    for v in examined
                ],
            },
            tick.id,
        )
        if vetoed:
            await self._tell_owners(vetoed, intents, tick)
            await self._count(len(vetoed), tick)

    async def _tell_owners(self, vetoed: list[Verdict], intents: dict[str, OrderIntent], tick: Tick) -> None:
        by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for v in vetoed:
            intent = intents[v.intent_id]
            by_owner[intent.strategy].append(
                {
                    "intent_id": v.intent_id,
                    "symbol": v.symbol,
                    "side": intent.side,
                    "qty": intent.qty,
                    "reasons": v.reasons,
                }
            )
        for owner, lines in sorted(by_owner.items()):
            what = "; ".join(f"{x['side']} {x['qty']:g} {x['symbol']}: {' | '.join(x['reasons'])}" for x in lines)
            await self.context.alert(
                "compliance_reject",
                "warning",
                f"compliance vetoed {len(lines)} order(s) of strategy {owner!r} (blocked; remedial action or policy "
                f"escalation due): {what}",
                details={"owner": owner, "vetoes": lines, "tick_id": tick.id},
            )

    async def _count(self, n: int, tick: Tick) -> None:
        ctx, s = self.context, self.settings
        now = ctx.clock.now()
        count = await self.vetoes.add(ctx.ledger, now, n)
        if count < s.max_vetoes:
            return
        reason = f"{count} compliance vetoes within {s.veto_window_seconds:g}s (limit {s.max_vetoes})"
        metrics = {
            "vetoes": count,
            "window_seconds": s.veto_window_seconds,
            "since": self.vetoes.times[0].isoformat(),
            "tick_id": tick.id,
        }
        await ctx.kill_switch(topics.COMPLIANCE_KILL_SWITCH, reason, metrics)
        await ctx.record("compliance.kill_switch", {"reason": reason, **metrics}, tick.id)
        await self.vetoes.reset(ctx.ledger, now)


def build_compliance_agent(settings: ComplianceSettings | None = None) -> ComplianceAgent:
    """The compliance agent for ``app`` to register (settings from ``COMPLIANCE_*`` when none are given)."""
    return ComplianceAgent(settings or ComplianceSettings())
