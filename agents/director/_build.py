"""Composition: the council's agents, built from settings, sharing one performance tracker."""

from __future__ import annotations

from collections.abc import Sequence

from agents.compliance import ComplianceSettings, PreScreen
from agents.director._council import StrategyCouncilAgent
from agents.director._director import DirectorAgent
from agents.director._feedback import FeedbackAgent
from agents.director._settings import CouncilSettings, DirectorSettings
from agents.director._tracker import PerformanceTracker
from agents.quant import Plugin, PluginAgent, QuantSettings, TechnicalPlugin, load_plugins
from runtime.agent import Agent


def build_council_agents(
    council: CouncilSettings | None = None,
    quant: QuantSettings | None = None,
    director: DirectorSettings | None = None,
    *,
    plugins: Sequence[Plugin] | None = None,
    include_director: bool = True,
    include_feedback: bool = True,
    compliance: ComplianceSettings | None = None,
) -> list[Agent]:
    """The Director, one :class:`PluginAgent` per council plug-in, the council and the feedback agent.

    Plug-ins come from ``council.plugins`` (``COUNCIL_PLUGINS``) unless given ready-made. With ``compliance``
    settings the council drops intents compliance would veto before publishing its pack (``no_trade`` says why).

    Raises:
        agents.quant.PluginConfigError: a plug-in in ``COUNCIL_PLUGINS`` cannot be found or built.
    """
    council = council or CouncilSettings()
    quant = quant or QuantSettings()
    members = list(plugins) if plugins is not None else load_plugins(council.plugins, quant)
    names = [p.name for p in members]
    tracker = PerformanceTracker(council)
    agents: list[Agent] = []
    if include_director:
        agents.append(DirectorAgent(director, quant))
    agents.extend(PluginAgent(p, publish=quant.publish) for p in members)
    prescreen = PreScreen(compliance) if compliance is not None else None
    agents.append(StrategyCouncilAgent(council, tracker, names, prescreen))
    if include_feedback:
        agents.append(FeedbackAgent(council, tracker, names))
    return agents


def sma_cross_agents(
    fast: int = 10,
    slow: int = 30,
    lot: int = 100,
    *,
    quant: QuantSettings | None = None,
    director: DirectorSettings | None = None,
    persist_every: int = 1,
) -> list[Agent]:
    """The backtest reference strategy ``sma-cross --fast F --slow S``: the technical plug-in alone in
    ``sma_cross`` mode and a pass-through council holding ``lot`` shares while the fast SMA is above the slow.
    ``persist_every``: how often the tracker is saved (``CouncilSettings.persist_every``)."""
    quant = quant or QuantSettings()
    council = CouncilSettings(plugins=["technical"], pass_through=True, lot=lot, quorum=1, persist_every=persist_every)
    technical = TechnicalPlugin(quant, mode="sma_cross", fast=fast, slow=slow)
    return build_council_agents(council, quant, director, plugins=[technical])
