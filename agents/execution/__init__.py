"""Execution and the books: venues (paper by default), the execution agent and the reconciliation agent.

``build_execution_agents(settings, home)`` gives the two agents over the configured venues; register both.
The paper venues keep their own state in ``<home>/paper_broker.sqlite``, the external side the ledger is
reconciled against.

Importing the package registers the ``portfolio.state`` payload and loads nothing else: every other name
is imported from its module on first use (module ``__getattr__``), so a bus client such as the cockpit
reads the portfolio without paying for the agents, compliance, market data and pandas (about 0.2 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agents.execution._portfolio import PORTFOLIO, PORTFOLIO_TYPE, PortfolioState, PositionState, portfolio_state

if TYPE_CHECKING:
    from agents.execution._agent import SETTLED_FILLS, ExecutionAgent, SettlementAgent, client_order_id
    from agents.execution._broker import (
        Broker,
        BrokerAccount,
        BrokerAck,
        BrokerError,
        BrokerFill,
        BrokerOrder,
        BrokerRejected,
        BrokerTimeout,
        BrokerUnavailable,
        FillBatch,
        OrderRequest,
    )
    from agents.execution._build import PAPER_FILE, build_execution_agents, paper_venues
    from agents.execution._fill_model import FillModel, FillQuote, fill_for_bar
    from agents.execution._final import FinalOrders, final_orders_fallback, resolve_final_orders, screen_intents
    from agents.execution._guard import FailureGuard
    from agents.execution._paper import FailurePlan, PaperBroker, PaperExchange
    from agents.execution._reconcile import NavCheck, check_nav, position_diffs, resolve_order
    from agents.execution._reconciliation_agent import ReconciliationAgent
    from agents.execution._settings import ExecutionSettings
    from agents.execution._settle import Settlement, SettlementError
    from agents.execution._venues import Venues

_LAZY: dict[str, tuple[str, ...]] = {  # module -> the public names it gives (as imported above for typing)
    "_agent": ("SETTLED_FILLS", "ExecutionAgent", "SettlementAgent", "client_order_id"),
    "_broker": (
        "Broker",
        "BrokerAccount",
        "BrokerAck",
        "BrokerError",
        "BrokerFill",
        "BrokerOrder",
        "BrokerRejected",
        "BrokerTimeout",
        "BrokerUnavailable",
        "FillBatch",
        "OrderRequest",
    ),
    "_build": ("PAPER_FILE", "build_execution_agents", "paper_venues"),
    "_fill_model": ("FillModel", "FillQuote", "fill_for_bar"),
    "_final": ("FinalOrders", "final_orders_fallback", "resolve_final_orders", "screen_intents"),
    "_guard": ("FailureGuard",),
    "_paper": ("FailurePlan", "PaperBroker", "PaperExchange"),
    "_reconcile": ("NavCheck", "check_nav", "position_diffs", "resolve_order"),
    "_reconciliation_agent": ("ReconciliationAgent",),
    "_settings": ("ExecutionSettings",),
    "_settle": ("Settlement", "SettlementError"),
    "_venues": ("Venues",),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once loaded, an ordinary module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "PAPER_FILE",
    "PORTFOLIO",
    "PORTFOLIO_TYPE",
    "SETTLED_FILLS",
    "Broker",
    "BrokerAccount",
    "BrokerAck",
    "BrokerError",
    "BrokerFill",
    "BrokerOrder",
    "BrokerRejected",
    "BrokerTimeout",
    "BrokerUnavailable",
    "ExecutionAgent",
    "ExecutionSettings",
    "FailureGuard",
    "FailurePlan",
    "FillBatch",
    "FillModel",
    "FillQuote",
    "FinalOrders",
    "NavCheck",
    "OrderRequest",
    "PaperBroker",
    "PaperExchange",
    "PortfolioState",
    "PositionState",
    "ReconciliationAgent",
    "Settlement",
    "SettlementAgent",
    "SettlementError",
    "Venues",
    "build_execution_agents",
    "check_nav",
    "client_order_id",
    "fill_for_bar",
    "final_orders_fallback",
    "paper_venues",
    "portfolio_state",
    "position_diffs",
    "resolve_final_orders",
    "resolve_order",
    "screen_intents",
]
