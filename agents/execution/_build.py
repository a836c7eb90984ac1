"""Wiring: the paper venues and the two agents that share them, as the app registers them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agents.execution._agent import ExecutionAgent, SettlementAgent
from agents.execution._broker import Broker
from agents.execution._paper import PaperBroker, PaperExchange
from agents.execution._reconciliation_agent import ReconciliationAgent
from agents.execution._settings import ExecutionSettings
from agents.execution._settle import Settlement
from agents.execution._venues import Venues
from runtime.agent import Agent

PAPER_FILE = "paper_broker.sqlite"


def paper_venues(settings: ExecutionSettings, home: Path, *, durable: bool = True) -> list[PaperBroker]:
    """The configured venues as paper venues sharing ``<home>/paper_broker.sqlite`` (``durable=False``: a throwaway
    home's, see :class:`agents.execution._paper_store.PaperStore`)."""
    exchange = PaperExchange(
        home / PAPER_FILE, settings.model_for_fills(), ttl_bars=settings.order_ttl_bars, durable=durable
    )
    return [exchange.venue(name) for name in settings.venues]


def build_execution_agents(
    settings: ExecutionSettings,
    home: Path,
    *,
    capital: float | None = None,
    brokers: Sequence[Broker] | None = None,
    durable: bool = True,
) -> list[Agent]:
    """The execution and reconciliation agents over the same venues (paper ones unless ``brokers`` is given).

    ``capital`` overrides ``settings.initial_capital`` (the ledger is funded once, on first start).
    """
    venues = Venues(list(brokers) if brokers is not None else paper_venues(settings, home, durable=durable))
    settlement = Settlement(venues)
    execution = ExecutionAgent(settings, venues, settlement, capital=capital)
    # the registry orders agents by stage: settlement runs in the data stage, first of the three
    return [execution, ReconciliationAgent(settings, venues, settlement), SettlementAgent(execution)]
