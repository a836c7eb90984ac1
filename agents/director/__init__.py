"""The Director and the Strategy Council: the day's directive, the consensus of the plug-ins, the trade pack,
and the performance tracker that weighs each plug-in by its record.

Build them with :func:`build_council_agents` (settings ``DIRECTOR_*``, ``COUNCIL_*``, ``QUANT_*``) or, for the
backtest reference strategy, :func:`sma_cross_agents`. The pure pieces (:func:`build_directive`,
:func:`build_consensus`, :func:`plan_trades`, :class:`PerformanceTracker`) take typed inputs and are what the
agents call.
"""

from agents.director._attribution import AttributedPosition, attribute_fill, supporter_shares
from agents.director._build import build_council_agents, sma_cross_agents
from agents.director._consensus import Consensus, Council, build_consensus
from agents.director._council import TRADE_PACK_TYPE, StrategyCouncilAgent
from agents.director._directive import MarketState, build_directive, drawdown, gross_factor, market_state
from agents.director._director import DIRECTIVE_TYPE, DirectorAgent
from agents.director._feedback import FEEDBACK_TYPE, FeedbackAgent
from agents.director._settings import DEFAULT_PLUGINS, CouncilSettings, DirectorSettings
from agents.director._sizing import Holdings, plan_trades
from agents.director._store import KEY, NAMESPACE, install_weights, load_tracker, save_tracker
from agents.director._tracker import PerformanceTracker, PluginStats, TickEffects

__all__ = [
    "DEFAULT_PLUGINS",
    "DIRECTIVE_TYPE",
    "FEEDBACK_TYPE",
    "KEY",
    "NAMESPACE",
    "TRADE_PACK_TYPE",
    "AttributedPosition",
    "Consensus",
    "Council",
    "CouncilSettings",
    "DirectorAgent",
    "DirectorSettings",
    "FeedbackAgent",
    "Holdings",
    "MarketState",
    "PerformanceTracker",
    "PluginStats",
    "StrategyCouncilAgent",
    "TickEffects",
    "attribute_fill",
    "build_consensus",
    "build_council_agents",
    "build_directive",
    "drawdown",
    "gross_factor",
    "install_weights",
    "load_tracker",
    "market_state",
    "plan_trades",
    "save_tracker",
    "sma_cross_agents",
    "supporter_shares",
]
