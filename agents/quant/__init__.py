"""Quant plug-ins: the Strategy Council's members, each turning the market view into scored proposals.

Built-ins: :class:`TechnicalPlugin` (trend, momentum, mean reversion; or the pure SMA cross),
:class:`FundamentalPlugin` (P/E against peers, margin of safety, quality), :class:`SentimentPlugin`
(VADER-scored headlines), :class:`MacroPlugin` (rates/inflation/unemployment regime through sectors).
A plug-in is any object with ``name`` and ``propose(view, directive) -> list[Proposal]``; wrap it in
:class:`PluginAgent` to put it on the council. :func:`load_plugins` finds plug-ins by name, entry point
(group ``agenthedge.plugins``) or ``module:Class`` path.
"""

from agents.quant._agent import BATCH_TYPE, PROPOSAL_TYPE, PluginAgent, avoided_symbols
from agents.quant._fundamental import FundamentalPlugin, graham_value
from agents.quant._macro import (
    NEUTRAL,
    RISK_OFF,
    RISK_ON,
    SECTOR_SENSITIVITY,
    UNKNOWN_SENSITIVITY,
    MacroPlugin,
    MacroRegime,
    inflation_tent,
    macro_regime,
)
from agents.quant._panel import Window, daily_vol, log_returns, window
from agents.quant._plugin import Plugin, default_directive, proposal, universe, view_prices
from agents.quant._registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    PluginConfigError,
    available_plugins,
    load_plugin,
    load_plugins,
)
from agents.quant._sentiment import HeadlineScorer, SentimentPlugin, analyzer
from agents.quant._settings import PublishMode, QuantSettings, TechnicalMode
from agents.quant._technical import TechnicalPlugin, rsi, sma, sma_cross, zscore

__all__ = [
    "BATCH_TYPE",
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "NEUTRAL",
    "PROPOSAL_TYPE",
    "RISK_OFF",
    "RISK_ON",
    "SECTOR_SENSITIVITY",
    "UNKNOWN_SENSITIVITY",
    "FundamentalPlugin",
    "HeadlineScorer",
    "MacroPlugin",
    "MacroRegime",
    "Plugin",
    "PluginAgent",
    "PluginConfigError",
    "PublishMode",
    "QuantSettings",
    "SentimentPlugin",
    "TechnicalMode",
    "TechnicalPlugin",
    "Window",
    "analyzer",
    "available_plugins",
    "avoided_symbols",
    "daily_vol",
    "default_directive",
    "graham_value",
    "inflation_tent",
    "load_plugin",
    "load_plugins",
    "log_returns",
    "macro_regime",
    "proposal",
    "rsi",
    "sma",
    "sma_cross",
    "universe",
    "view_prices",
    "window",
    "zscore",
]
