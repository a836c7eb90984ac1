"""The one agent that hosts any plug-in: reads the tick, calls ``propose``, checks, publishes and audits.

Every council member, built-in or user-supplied, runs inside a :class:`PluginAgent`, so each gets the
same treatment: a plug-in named in ``directive.avoid_signals`` is skipped (a data-quality issue, runbook
SOP 2) and says so in the audit log; ``name:SYMBOL`` entries drop just that symbol; a plug-in that raises
or returns malformed proposals loses this tick's vote but never aborts the tick, and the operator is
alerted once per failure streak.
"""

from __future__ import annotations

import time
from typing import Any

from agents.market import MarketView
from agents.quant._plugin import Plugin, default_directive, universe
from agents.quant._settings import PublishMode
from agents.types import DIRECTIVE, MARKET, PROPOSALS, Directive, Proposal, Proposals
from runtime import topics
from runtime.agent import Agent, AgentHealth, Stage, Tick
from runtime.messages import register_payload

PROPOSAL_TYPE = "strategy.proposal"
BATCH_TYPE = "strategy.proposals"
register_payload(BATCH_TYPE, Proposals)


def avoided_symbols(plugin: str, avoid: list[str]) -> tuple[bool, set[str]]:
    """``(whole plug-in avoided, symbols avoided)`` from ``avoid_signals`` entries ``name`` / ``name:SYMBOL``."""
    whole = plugin in avoid
    symbols = {a.split(":", 1)[1] for a in avoid if a.startswith(plugin + ":")}
    return whole, symbols


class PluginAgent(Agent):
    """Council stage, order 0 (before the council itself). Name: ``quant.<plugin>``."""

    stage = Stage.COUNCIL
    order = 0

    def __init__(self, plugin: Plugin, *, publish: PublishMode = "batch") -> None:
        super().__init__()
        self.plugin = plugin
        self.name = f"quant.{plugin.name}"
        self.publish_mode: PublishMode = publish
        self.topic = topics.strategy_proposal(plugin.name)
        self.last_count = 0
        self.last_skip = ""
        self.last_error = ""
        self.propose_ms = 0.0
        self._failing = False

    async def on_tick(self, tick: Tick) -> None:
        ctx = self.context
        view = tick.get(MARKET, MarketView)
        self.last_count, self.last_skip = 0, ""
        if view is None:
            self.last_skip = "no market view on the tick"
            return
        directive = tick.get(DIRECTIVE, Directive) or default_directive(view)
        whole, symbols = avoided_symbols(self.plugin.name, directive.avoid_signals)
        if whole:
            self.last_skip = "avoided by the director: its data is impacted by a data-quality issue"
            await ctx.record(
                "quant.plugin_skipped",
                {"plugin": self.plugin.name, "reason": self.last_skip, "avoid_signals": directive.avoid_signals},
                tick.id,
            )
            return
        if symbols:  # the plug-in never sees the symbols whose data it must not use
            kept = [s for s in directive.universe if s not in symbols]
            directive = directive.model_copy(update={"universe": kept})
        started = time.perf_counter()
        try:
            raw: Any = self.plugin.propose(view, directive)
        except Exception as exc:
            await self._failed(tick, f"propose raised {type(exc).__name__}: {exc}")
            return
        finally:
            self.propose_ms = (time.perf_counter() - started) * 1000
        proposals, dropped = self._check(raw, set(universe(view, directive)))
        if dropped:
            more = f" (+{len(dropped) - 5} more)" if len(dropped) > 5 else ""
            await self._failed(tick, "; ".join(dropped[:5]) + more)
        elif self._failing:
            self._failing, self.last_error = False, ""
            await ctx.record("quant.plugin_recovered", {"plugin": self.plugin.name}, tick.id)
        if symbols:
            await ctx.record(
                "quant.symbols_skipped",
                {"plugin": self.plugin.name, "symbols": sorted(symbols), "reason": "data-quality issue"},
                tick.id,
            )
        self.last_count = len(proposals)
        tick.outputs.setdefault(PROPOSALS, []).extend(proposals)
        await self._publish(tick, proposals)

    def _check(self, raw: Any, allowed: set[str]) -> tuple[list[Proposal], list[str]]:
        if not isinstance(raw, list | tuple):
            return [], [f"propose returned {type(raw).__name__}, not a list of Proposal"]
        out: list[Proposal] = []
        seen: set[str] = set()
        dropped: list[str] = []
        for p in raw:
            if not isinstance(p, Proposal):
                dropped.append(f"not a Proposal: {type(p).__name__}")
            elif p.plugin != self.plugin.name:
                dropped.append(f"{p.symbol}: signed {p.plugin!r}, not {self.plugin.name!r}")
            elif p.symbol not in allowed:
                dropped.append(f"{p.symbol}: not in today's universe")
            elif p.symbol in seen:
                dropped.append(f"{p.symbol}: proposed twice")
            else:
                seen.add(p.symbol)
                out.append(p)
        return out, dropped

    async def _failed(self, tick: Tick, reason: str) -> None:
        ctx = self.context
        self.errors += 1
        self.last_error = reason
        await ctx.record("quant.plugin_error", {"plugin": self.plugin.name, "error": reason}, tick.id)
        if not self._failing:  # one alert per failure streak, not one per tick
            self._failing = True
            await ctx.alert(
                "quant_plugin_error",
                "warning",
                f"plug-in {self.plugin.name} misbehaved; its proposals are left out: {reason}",
                details={"plugin": self.plugin.name, "tick_id": tick.id},
            )

    async def _publish(self, tick: Tick, proposals: list[Proposal]) -> None:
        """One :class:`Proposals` message a tick by default (a plug-in proposes for every symbol: 100 messages a
        plug-in a tick at 100 symbols cost more than the plug-in itself); ``each`` keeps one message a proposal."""
        ctx = self.context
        if self.publish_mode == "each":
            for p in proposals:
                await ctx.publish(self.topic, PROPOSAL_TYPE, p, tick_id=tick.id)
        elif self.publish_mode == "batch" and proposals:
            await ctx.publish(self.topic, BATCH_TYPE, Proposals(items=proposals), tick_id=tick.id)

    def health(self) -> AgentHealth:
        data: dict[str, Any] = {
            "proposals": self.last_count,
            "propose_ms": round(self.propose_ms, 3),
            "errors": self.errors,
        }
        if self.last_skip:
            data["skipped"] = self.last_skip
        if self._failing:
            return AgentHealth(False, f"plug-in failing: {self.last_error}", data)
        return AgentHealth(True, self.last_skip or f"{self.last_count} proposals", data)
