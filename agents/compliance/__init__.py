"""Compliance: restricted list, concentration, wash trades and prohibited tactics (issue 3, item 5).

:func:`review` is the pure rulebook; :class:`ComplianceAgent` the thin stage-COMPLIANCE wrapper (publish, audit,
tell the strategy owner, kill switch on repeated vetoes). :func:`final_orders` is the one gate execution goes
through: only intents approved by both risk and compliance become orders, so no agent can override a veto.
"""

from agents.compliance._agent import ComplianceAgent, build_compliance_agent, risk_approved
from agents.compliance._gate import ComplianceGateError, final_intents, final_orders
from agents.compliance._history import LastFills, VetoLog
from agents.compliance._prescreen import PreScreen
from agents.compliance._rules import ComplianceRule, LastFill, review
from agents.compliance._settings import ComplianceSettings

__all__ = [
    "ComplianceAgent",
    "ComplianceGateError",
    "ComplianceRule",
    "ComplianceSettings",
    "LastFill",
    "LastFills",
    "PreScreen",
    "VetoLog",
    "build_compliance_agent",
    "final_intents",
    "final_orders",
    "review",
    "risk_approved",
]
