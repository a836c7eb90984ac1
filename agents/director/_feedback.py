"""The Feedback agent: folds the tick's outcome into the performance tracker and publishes the weights.

Inputs from the tick: the market view (prices for hit rates), the proposals, the trade pack, risk's and
compliance's verdicts (penalties), and execution's report (fills for P&L attribution). It persists the
tracker in the ledger (every ``persist_every`` ticks, on :meth:`FeedbackAgent.flush` and on stop) and publishes
:class:`~agents.types.Feedback` on ``strategy.feedback``.
"""

from __future__ import annotations

from typing import Any

from agents.director._settings import CouncilSettings
from agents.director._store import load_tracker, save_tracker
from agents.director._tracker import PerformanceTracker
from agents.market import MarketView
from agents.quant import view_prices
from agents.types import (
    COMPLIANCE_VERDICTS,
    EXECUTION_REPORT,
    MARKET,
    PROPOSALS,
    RISK_VERDICTS,
    TRADE_PACK,
    ExecutionReport,
    Feedback,
    Proposal,
    TradePack,
    Verdicts,
)
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.context import AgentContext

FEEDBACK_TYPE = "strategy.feedback"


class FeedbackAgent(Agent):
    """Feedback stage. Shares its :class:`PerformanceTracker` with the :class:`StrategyCouncilAgent`."""

    name = "feedback"
    stage = Stage.FEEDBACK

    def __init__(
        self,
        settings: CouncilSettings | None = None,
        tracker: PerformanceTracker | None = None,
        plugins: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or CouncilSettings()
        self.tracker = tracker or PerformanceTracker(self.settings)
        self.plugins = sorted(plugins or [])
        self.last: Feedback | None = None
        self._unsaved = 0

    async def start(self, ctx: AgentContext) -> None:
        await super().start(ctx)
        await load_tracker(ctx.ledger, self.tracker)

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        view = tick.get(MARKET, MarketView)
        if view is None:
            return
        proposals: list[Proposal] = tick.outputs.get(PROPOSALS, [])
        pack = tick.get(TRADE_PACK, TradePack)
        report = tick.get(EXECUTION_REPORT, ExecutionReport)
        nav = None
        if report is not None and report.fills:
            nav = (await ctx.ledger.books()).nav  # only when there is P&L to scale
        members = sorted(set(self.plugins) | {p.plugin for p in proposals})
        effects = self.tracker.update(
            view.as_of,
            plugins=members,
            proposals=proposals,
            prices=view_prices(view),
            pack=pack,
            risk=tick.get(RISK_VERDICTS, Verdicts),
            compliance=tick.get(COMPLIANCE_VERDICTS, Verdicts),
            report=report,
            nav=nav,
        )
        feedback = self.tracker.feedback(view.as_of, effects, members)
        self.last = feedback
        self._unsaved += 1
        every = self.settings.persist_every
        if every and self._unsaved >= every:
            await self.persist()
        await ctx.publish(topics.STRATEGY_FEEDBACK, FEEDBACK_TYPE, feedback, tick_id=tick.id)
        if effects.penalties:
            data: dict[str, Any] = {
                "penalties": {p: feedback.penalties.get(p, 0.0) for p in sorted(effects.penalties)},
                "reasons": effects.penalties,
                "weights": feedback.weights,
            }
            await ctx.record("council.penalty", data, tick.id)

    async def persist(self) -> None:
        ctx = self.context
        await save_tracker(ctx.ledger, self.tracker, ts=ctx.clock.now())
        self._unsaved = 0

    async def flush(self) -> None:
        """Save the tracker if a tick changed it since the last save."""
        if self.ctx is not None and self._unsaved:
            await self.persist()

    async def stop(self) -> None:
        await self.flush()

    def health(self) -> AgentHealth:
        fb = self.last
        if fb is None:
            return AgentHealth(True, "no feedback yet")
        shown = ", ".join(f"{p} {w:.2f}" for p, w in fb.weights.items())
        return AgentHealth(True, f"weights {shown}", {"weights": fb.weights, "penalties": fb.penalties})
