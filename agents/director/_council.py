"""The Strategy Council agent: turns the plug-ins' proposals into the tick's trade pack."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.compliance import PreScreen
from agents.director._consensus import Council, build_consensus
from agents.director._settings import CouncilSettings
from agents.director._sizing import Holdings, plan_trades
from agents.director._store import load_tracker
from agents.director._tracker import PerformanceTracker
from agents.market import MarketView
from agents.quant import daily_vol, default_directive, view_prices, window
from agents.types import DIRECTIVE, MARKET, PROPOSALS, TRADE_PACK, Directive, OrderIntent, Proposal, TradePack
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.context import AgentContext

TRADE_PACK_TYPE = "quant.proposal"


def audited_intent(i: OrderIntent) -> dict[str, Any]:
    """What the trade pack's audit line keeps of an intent: ``i.model_dump(mode="json", include={...})`` of these
    fields, in field order, built directly (a model_dump costs more than the line's encoding of it). Every field is a
    str, a float, an int or a dict of floats, which JSON mode leaves as they are."""
    return {
        "id": i.id,
        "symbol": i.symbol,
        "side": i.side,
        "qty": i.qty,
        "priority": i.priority,
        "target_weight": i.target_weight,
        "consensus": i.consensus,
        "votes": dict(i.votes),
    }


class StrategyCouncilAgent(Agent):
    """Council stage, order 10 (after the plug-ins). Publishes the :class:`TradePack` on ``quant.proposal``.

    Args:
        settings: quorum, sizing and mode.
        tracker: the performance tracker shared with :class:`FeedbackAgent` (its weights weigh the votes).
        plugins: the council's members, so that a silent member still counts in the weights.
    """

    name = "council"
    stage = Stage.COUNCIL
    order = 10

    def __init__(
        self,
        settings: CouncilSettings | None = None,
        tracker: PerformanceTracker | None = None,
        plugins: list[str] | None = None,
        prescreen: PreScreen | None = None,
    ) -> None:
        super().__init__()
        self.prescreen = prescreen
        self.settings = settings or CouncilSettings()
        self.tracker = tracker or PerformanceTracker(self.settings)
        self.plugins = sorted(plugins or [])
        self.last: TradePack | None = None
        self.last_council: Council | None = None

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await load_tracker(self.context.ledger, self.tracker)

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        view = tick.get(MARKET, MarketView)
        if view is None:
            return
        directive = tick.get(DIRECTIVE, Directive) or default_directive(view)
        proposals: list[Proposal] = tick.outputs.get(PROPOSALS, [])
        avoided = set(directive.avoid_signals)  # whole plug-ins silenced by a data-quality issue: no weight today
        members = sorted((set(self.plugins) | {p.plugin for p in proposals}) - avoided)
        weights = self.tracker.weights_for(members)
        council = build_consensus(proposals, weights, directive, self.settings)
        prices = view_prices(view)
        holdings = Holdings.from_books(await ctx.ledger.books(), await ctx.ledger.open_orders(), prices)
        vols = self._vols(view, sorted(council.table)) if not self.settings.pass_through else {}
        pack = plan_trades(
            council,
            holdings=holdings,
            prices=prices,
            vols=vols,
            directive=directive,
            settings=self.settings,
            weights={p: round(w, 6) for p, w in weights.items()},
            tick_id=tick.id,
            reducing_only=tick.reducing_only,
        )
        if self.prescreen is not None:
            pack = await self.prescreen.apply(pack, ctx.ledger, view)
        self.last, self.last_council = pack, council
        tick.put(TRADE_PACK, pack)
        await ctx.publish(topics.QUANT_PROPOSAL, TRADE_PACK_TYPE, pack, tick_id=tick.id)
        if pack.intents and self.settings.audit_trade_packs:
            await ctx.record(
                "council.trade_pack",
                {
                    "as_of": pack.as_of.isoformat(),
                    "nav": round(holdings.nav, 2),
                    "weights": pack.weights,
                    "intents": [audited_intent(i) for i in pack.intents],
                    "no_trade": len(pack.no_trade),
                },
                tick.id,
            )

    def _vols(self, view: MarketView, symbols: list[str]) -> dict[str, float]:
        n = self.settings.vol_lookback
        w = window(view, symbols, n + 1)
        if not w.symbols:
            return {}
        vol = daily_vol(w.values, n, floor=self.settings.vol_floor)
        ok = w.has(max(n // 2, 5) + 1) & np.isfinite(vol)  # too short a history has no volatility worth sizing on
        keep = np.flatnonzero(ok)
        return dict(zip([w.symbols[i] for i in keep], vol[keep].tolist(), strict=True))

    def health(self) -> AgentHealth:
        pack = self.last
        if pack is None:
            return AgentHealth(True, "no trade pack yet")
        return AgentHealth(
            True,
            f"{len(pack.intents)} intents, {len(pack.no_trade)} without trade",
            {"weights": pack.weights, "intents": len(pack.intents)},
        )
