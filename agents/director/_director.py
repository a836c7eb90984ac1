"""The Director agent: sets the day's focus before the council meets (runbook 08:30 "strategy briefing")."""

from __future__ import annotations

from datetime import date, timedelta

from agents.director._directive import IndexCache, build_directive
from agents.director._settings import DirectorSettings
from agents.market import MarketView
from agents.quant import QuantSettings, macro_regime
from agents.types import DIRECTIVE, MARKET, MARKET_SNAPSHOT, Directive, MarketSnapshot
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick

DIRECTIVE_TYPE = "director.directive"


class NavCache:
    """The last NAV of each session, read from the ledger incrementally.

    The query starts at an anchor session that moves only when its answer has grown long (then to the newest
    session known), not every tick: the ledger keeps the answer of a repeated query in memory and follows it
    through each NAV point written, so most ticks read no SQL. Re-reading the points from the anchor on gives
    the same sessions' NAV as reading from the newest session (the last point of a session wins either way).
    """

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.by_session: dict[str, float] = {}
        self.anchor: str | None = None

    def since(self, as_of: date) -> str:
        if self.anchor is None:
            if self.by_session:
                self.anchor = max(self.by_session)
            else:  # calendar days enough to hold ``sessions`` trading sessions, holidays included
                self.anchor = (as_of - timedelta(days=self.sessions * 7 // 5 + 10)).isoformat()
        return self.anchor

    def add(self, points: list[tuple[str, float]], as_of: date) -> list[float]:
        for session, nav in points:  # time order: the last point of a session wins
            self.by_session[session] = nav
        if len(points) > 2 * self.sessions + 2 and self.by_session:
            self.anchor = max(self.by_session)  # the next answer starts over, short
        today = as_of.isoformat()
        keep = sorted(s for s in self.by_session if s <= today)[-self.sessions :]
        if len(keep) < len(self.by_session):
            kept = set(keep)
            for old in [s for s in self.by_session if s not in kept]:
                del self.by_session[old]
        return [self.by_session[s] for s in keep]


class DirectorAgent(Agent):
    """Director stage. Publishes the :class:`~agents.types.Directive` on ``director.directive``."""

    name = "director"
    stage = Stage.DIRECTOR

    def __init__(self, settings: DirectorSettings | None = None, quant: QuantSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or DirectorSettings()
        self.quant = quant or QuantSettings()
        self.navs = NavCache(self.settings.drawdown_lookback)
        self.index_cache = IndexCache()
        self.last: Directive | None = None

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        view = tick.get(MARKET, MarketView)
        if view is None:
            return  # no data, no directive: the plug-ins and the council then have nothing to do
        snapshot = tick.get(MARKET_SNAPSHOT, MarketSnapshot)
        found = await ctx.ledger.nav_history(since_session=self.navs.since(view.as_of))
        navs = self.navs.add([(p.session, p.nav) for p in found], view.as_of)
        macro = macro_regime(view, self.quant.macro_change_months, self.quant.macro_stale_days)
        directive = build_directive(
            view, self.settings, snapshot=snapshot, navs=navs, macro=macro, index_cache=self.index_cache
        )
        tick.put(DIRECTIVE, directive)
        await ctx.publish(topics.DIRECTOR_DIRECTIVE, DIRECTIVE_TYPE, directive, tick_id=tick.id)
        if self._changed(directive):
            await ctx.record(
                "director.directive",
                {
                    "as_of": directive.as_of.isoformat(),
                    "regime": directive.regime,
                    "gross_target": directive.gross_target,
                    "max_names": directive.max_names,
                    "universe": len(directive.universe),
                    "avoid_signals": directive.avoid_signals,
                    "notes": directive.notes,
                },
                tick.id,
            )
        self.last = directive

    def _changed(self, new: Directive) -> bool:
        """Audit a directive when its substance changes, not every tick."""
        old = self.last
        return (
            old is None
            or old.regime != new.regime
            or abs(old.gross_target - new.gross_target) > 0.05
            or old.avoid_signals != new.avoid_signals
            or old.universe != new.universe
            or old.max_names != new.max_names
        )

    def health(self) -> AgentHealth:
        d = self.last
        if d is None:
            return AgentHealth(True, "no directive yet")
        return AgentHealth(
            True,
            f"{d.regime}, gross {d.gross_target:.0%}, {len(d.universe)} names",
            {"regime": d.regime, "gross_target": d.gross_target, "avoid_signals": d.avoid_signals},
        )
