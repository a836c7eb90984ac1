"""Execution and the books: venues (paper by default), the execution agent and the reconciliation agent.

``build_execution_agents(settings, home)`` gives the two agents over the configured venues; register both.
The paper venues keep their own state in ``<home>/paper_broker.sqlite``, the external side the ledger is
reconciled against.
"""

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
from agents.execution._portfolio import PORTFOLIO, PORTFOLIO_TYPE, PortfolioState, PositionState, portfolio_state
from agents.execution._reconcile import NavCheck, check_nav, position_diffs, resolve_order
from agents.execution._reconciliation_agent import ReconciliationAgent
from agents.execution._settings import ExecutionSettings
from agents.execution._settle import Settlement, SettlementError
from agents.execution._venues import Venues

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
